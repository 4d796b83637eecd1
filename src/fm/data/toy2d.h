// FFJORD's toy 2-D densities (same shapes and scales), drawn from a generator.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

namespace fm {

// "moons", "8gaussians", "checkerboard", "circles", "pinwheel", "2spirals",
// "swissroll", "rings", "gaussian-shift".
const std::vector<std::string>& toy2d_names();

// n points (n, 2) float32 of the named density. gaussian-shift draws N([mu, 0], I)
// with mu = `shift` (its source is N([-mu, 0], I)).
torch::Tensor sample_toy2d(const std::string& name, int64_t n, at::Generator& generator,
                           double shift = 2.0);

}  // namespace fm
