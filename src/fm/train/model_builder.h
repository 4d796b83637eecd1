// Building a run's velocity network reproducibly.
#pragma once

#include <vector>

#include "fm/nn/velocity_model.h"
#include "fm/train/run_options.h"

namespace fm {

// Builds the network of options.model for examples of `example_shape` on
// options.device. LibTorch's default initialisers draw from its global CPU
// generator, so it is seeded from the run seed right before construction: the
// initial weights depend on the seed alone.
VelocityModelPtr build_velocity_model(const RunOptions& options,
                                      const std::vector<int64_t>& example_shape);

// The torch device named by options.device; throws InputError if "cuda" is
// asked for and no CUDA device is available.
torch::Device run_device(const RunOptions& options);

}  // namespace fm
