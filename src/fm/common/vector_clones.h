// FM_VECTOR_CLONES: compile a function also for AVX2 and AVX-512 and pick the
// version at load time (GCC's target_clones), as LibTorch picks its own
// kernels. The toolkit is compiled for the baseline x86-64 instruction set, so
// its own float loops would otherwise use 128-bit vectors only. Elsewhere (other
// compilers and architectures) the macro is empty.
//
// FM_VECTOR_CLONES_FMA: the same, with fused multiply-adds in the AVX2 copy
// too (GCC's "avx2" target has none; the Haswell architecture, the first with
// AVX2, has both). For loops that may round differently from one CPU to the
// next; functions they call must be always_inline to be compiled into each copy.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define FM_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#define FM_VECTOR_CLONES_FMA \
  __attribute__((target_clones("avx512f", "arch=haswell", "default")))
#else
#define FM_VECTOR_CLONES
#define FM_VECTOR_CLONES_FMA
#endif
