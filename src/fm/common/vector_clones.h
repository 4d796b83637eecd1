// FM_VECTOR_CLONES: compile a function also for AVX2 and AVX-512 and pick the
// version at load time (GCC's target_clones), as LibTorch picks its own
// kernels. The toolkit is compiled for the baseline x86-64 instruction set, so
// its own float loops would otherwise use 128-bit vectors only. Elsewhere (other
// compilers and architectures) the macro is empty.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define FM_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FM_VECTOR_CLONES
#endif
