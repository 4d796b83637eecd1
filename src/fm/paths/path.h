// Probability paths and couplings for conditional flow matching (DESIGN: maths
// conventions). Time runs from t = 0 (source x_0 ~ N(0, I)) to t = 1 (data x_1).
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>

namespace fm {

struct PathOptions {
  std::string type = "condot";  // "condot", "icfm" or "otcfm"
  double sigma_min = 1e-4;      // condot: x_t = (1 - (1 - sigma_min) t) x_0 + t x_1
  double sigma = 0.0;           // icfm / otcfm: x_t = (1 - t) x_0 + t x_1 + sigma eps
};

struct PathSample {
  torch::Tensor x_t;  // (B, ...) point on the path
  torch::Tensor u_t;  // (B, ...) conditional target velocity
};

// Draws x_t and u_t for given endpoints and times.
//   x_0, x_1: (B, ...), same shape; t: (B,) in [0, 1].
// Every form is finite for all t in [0, 1] (no division by 1 - t).
// `generator` supplies the noise eps of icfm/otcfm (unused by condot).
PathSample sample_path(const PathOptions& options, const torch::Tensor& x_0,
                       const torch::Tensor& x_1, const torch::Tensor& t, at::Generator& generator);

// Pairs each x_1 with a source point for the coupling of `options.type`:
// the identity for condot and icfm, and for otcfm a permutation of x_0 from an
// exact optimal assignment under squared Euclidean cost (every x_0 used once).
// Returns x_0 reordered so that row i pairs with x_1 row i.
torch::Tensor couple(const PathOptions& options, const torch::Tensor& x_0,
                     const torch::Tensor& x_1);

// Flow matching loss: mean over batch and all dimensions of |v - u_t|^2.
torch::Tensor flow_matching_loss(const torch::Tensor& v, const torch::Tensor& u_t);

}  // namespace fm
