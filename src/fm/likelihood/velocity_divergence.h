// Private to fm_likelihood: one evaluation of the velocity together with its
// divergence, shared by divergence() and the augmented field of log_likelihood().
#pragma once

#include <torch/torch.h>

#include "fm/likelihood/likelihood.h"

namespace fm::likelihood {

struct VelocityDivergence {
  torch::Tensor v;    // (B, ...) like x
  torch::Tensor div;  // (B,)
};

// v(x, t) and its divergence from the same forward pass. Grad mode is switched
// on inside, so callers may hold a NoGradGuard; c10::InferenceMode is refused
// (RuntimeError): tensors made under it cannot enter autograd.
// create_graph = false: x is detached first, both results come back detached and
// the graph is freed before returning, so memory does not grow across calls.
// create_graph = true: x is used as is (its history kept) and both results stay
// differentiable with respect to x and to anything v captures.
VelocityDivergence velocity_and_divergence(const Velocity& v, const torch::Tensor& x,
                                           const torch::Tensor& t, const DivergenceOptions& options,
                                           const torch::Tensor& probes, bool create_graph);

// Throws InputError for an unknown estimator or probe, n_probes < 1 or
// rows_per_pass < 0.
void validate(const DivergenceOptions& options);

}  // namespace fm::likelihood
