// Log-likelihood of a continuous normalizing flow dx/dt = v(x, t) (DESIGN: maths
// conventions). The augmented state (x, l) is integrated from t = 1 (x = x_1,
// l = 0) down to t = 0 with dl/dt = div v(x, t); then
//   log p1(x_1) = log p0(x(0)) + l(0),   p0 = N(0, I).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "fm/solvers/solver.h"

namespace fm {

// The velocity v(x, t). x: (B, ...) ; t: (B,) ; returns (B, ...) like x.
// Must be differentiable with respect to x (autograd).
using Velocity = std::function<torch::Tensor(const torch::Tensor& x, const torch::Tensor& t)>;

// Optional: v(x, t) together with its exact divergence, computed without
// autograd (e.g. VelocityModel::velocity_and_divergence). Sets *v (B, ...) and
// *div (B,), detached, and returns true; returns false when it cannot, and the
// autograd path is taken instead.
using ExactVelocityDivergence = std::function<bool(const torch::Tensor& x, const torch::Tensor& t,
                                                   torch::Tensor* v, torch::Tensor* div)>;

struct DivergenceOptions {
  std::string estimator = "exact";  // "exact" (d VJPs, batched) or "hutchinson"
  std::string probe = "gaussian";   // hutchinson: "gaussian" or "rademacher"
  int64_t n_probes = 1;             // hutchinson: probes averaged per sample
  // Rows per autograd pass when the result is not differentiated (0: the
  // whole batch in one pass; else the fewest passes of at most this many
  // rows, their sizes differing by one at most). One pass's graph is what an evaluation holds at
  // its peak, so this caps memory; as v treats samples independently (see
  // divergence()), the results equal the whole batch's up to rounding.
  int64_t rows_per_pass = 0;
};

// Divergence of v at (x, t), one value per sample. x: (B, ...), t: (B,) -> (B,).
// For "hutchinson", `probes` holds the fixed probes, shape (K, B, ...), and the
// estimate is mean_k eps_k^T (dv/dx) eps_k. With create_graph the result stays
// differentiable (for training through the likelihood); otherwise it is detached.
// v must treat samples independently (no batch statistics): the exact estimator
// takes one VJP per dimension for the whole batch at once. Grad mode is switched
// on inside, so a caller's NoGradGuard is fine; c10::InferenceMode is not (its
// tensors cannot enter autograd) and gives RuntimeError. Bad options or probe
// shapes give InputError.
torch::Tensor divergence(const Velocity& v, const torch::Tensor& x, const torch::Tensor& t,
                         const DivergenceOptions& options, const torch::Tensor& probes = {},
                         bool create_graph = false);

// Draws K probes of shape (K, B, ...) for a batch like `x`.
torch::Tensor draw_probes(const torch::Tensor& x, const DivergenceOptions& options,
                          at::Generator& generator);

struct LikelihoodOptions {
  DivergenceOptions divergence;
  SolverOptions solver;  // t0/t1 are overwritten: the solve always runs 1 -> 0
  // Keep the graph through the whole solve so log p1 can be differentiated
  // with respect to the parameters (memory grows with the steps). Off by
  // default: each evaluation is detached and memory stays flat.
  bool differentiable = false;
  // When set, used for every evaluation of an "exact", non-differentiable solve
  // in place of d reverse-mode passes. It must compute the same velocity as
  // the Velocity given to log_likelihood().
  ExactVelocityDivergence exact_divergence;
};

struct LikelihoodResult {
  torch::Tensor log_p1;     // (B,) log-density of x_1 under the model, nats
  torch::Tensor log_p0;     // (B,) log N(x(0); 0, I)
  torch::Tensor delta_log;  // (B,) l(0) = -integral_0^1 div v dt
  torch::Tensor x0;         // (B, ...) the state reached at t = 0
  SolveStats stats;
};

// log p1(x_1) for a batch x1: (B, ...). The Hutchinson probes are drawn once
// from `generator` and held fixed for the whole solve.
// Like divergence(), this must not run under c10::InferenceMode (use NoGradGuard).
// The augmented state is one (B, D + 1) tensor [x flattened, l], so the solver's
// adaptive error norm covers the log-density as well as x.
LikelihoodResult log_likelihood(const Velocity& v, const torch::Tensor& x1,
                                const LikelihoodOptions& options, at::Generator& generator);

// log N(x; 0, I) summed over all non-batch dimensions. x: (B, ...) -> (B,).
torch::Tensor standard_normal_log_prob(const torch::Tensor& x);

}  // namespace fm
