// Sampling: integrate dx/dt = v_theta(x, t) from x_0 ~ N(0, I) at t = 0 to t = 1.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "fm/nn/velocity_model.h"
#include "fm/solvers/solver.h"

namespace fm {

struct GenerateOptions {
  SolverOptions solver;        // t0/t1 are set to 0 and 1
  int64_t num = 1000;          // samples
  int64_t batch_size = 10000;  // samples integrated together
  bool trajectory = false;     // also return the state after every step
};

struct GeneratedSamples {
  torch::Tensor x_1;         // (N, ...) model space, float32, CPU
  torch::Tensor trajectory;  // (S + 1, N, ...) when asked: x_0 then each accepted step
  SolveStats stats;          // summed over batches
  double seconds = 0.0;      // wall time of the integration alone (no draws, no copies out)
};

// All N source points are drawn at once from `generator` before integrating, so
// the samples do not depend on batch_size or on the thread count. The solve
// runs under c10::InferenceMode (no autograd state at all) with the model in
// eval mode; the returned tensors are ordinary ones.
GeneratedSamples generate_samples(VelocityModel& model, const std::vector<int64_t>& example_shape,
                                  const GenerateOptions& options, at::Generator& generator,
                                  torch::Device device);

}  // namespace fm
