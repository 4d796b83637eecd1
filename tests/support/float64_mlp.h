// A float64 MLP with weights drawn from a fixed seed, for tests that compare
// it against autograd to float64 rounding.
#pragma once

#include <torch/torch.h>

#include <cstdint>

#include "fm/nn/mlp.h"

namespace fm::test_support {

inline MLP float64_mlp(int64_t data_dim, const MLPOptions& options, uint64_t seed) {
  torch::manual_seed(seed);
  MLP mlp(data_dim, options);
  mlp->to(torch::kFloat64);
  return mlp;
}

}  // namespace fm::test_support
