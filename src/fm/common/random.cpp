#include "fm/common/random.h"

#include <ATen/CPUGeneratorImpl.h>

namespace fm {

at::Generator make_generator(uint64_t seed) { return at::detail::createCPUGenerator(seed); }

uint64_t derive_seed(uint64_t seed, uint64_t stream) {
  // SplitMix64 finaliser over (seed, stream): cheap, well mixed, stable across platforms.
  uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace fm
