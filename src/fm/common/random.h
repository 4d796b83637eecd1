// Seeded random generators. Every consumer owns a generator derived from the run
// seed; nothing draws from LibTorch's global default generator, so results do
// not depend on thread count or on the order other components run in.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace fm {

// A CPU generator seeded with `seed`.
at::Generator make_generator(uint64_t seed);

// A seed for sub-stream `stream` of a run seeded with `seed` (SplitMix64 mix),
// so that e.g. training, sampling and evaluation draw from independent streams.
uint64_t derive_seed(uint64_t seed, uint64_t stream);

}  // namespace fm
