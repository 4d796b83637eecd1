// FM_VECTOR_CLONES: compile a function also for AVX2 and AVX-512 and pick the
// version at load time (GCC's target_clones), as LibTorch picks its own
// kernels. The toolkit is compiled for the baseline x86-64 instruction set, so
// its own float loops would otherwise use 128-bit vectors only. Elsewhere (other
// compilers and architectures) the macro is empty.
//
// FM_VECTOR_CLONES_FMA: the same, with fused multiply-adds in the AVX2 copy
// too: GCC's "avx2" target has none, x86-64-v3 (AVX2, FMA, BMI2: Intel since
// Haswell, AMD since Zen) has both, and is picked by those features, not by CPU
// model (GCC 12 on). For loops that may round differently from one CPU to the
// next; functions they call must be always_inline to be compiled into each copy.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define FM_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#if __GNUC__ >= 12
#define FM_VECTOR_CLONES_FMA __attribute__((target_clones("avx512f", "arch=x86-64-v3", "default")))
#else
#define FM_VECTOR_CLONES_FMA FM_VECTOR_CLONES
#endif
#else
#define FM_VECTOR_CLONES
#define FM_VECTOR_CLONES_FMA
#endif
