#include "fm/likelihood/likelihood.h"

#include <c10/core/InferenceMode.h>

#include <cmath>
#include <vector>

#include "fm/common/error.h"
#include "fm/likelihood/velocity_divergence.h"

namespace fm {

torch::Tensor standard_normal_log_prob(const torch::Tensor& x) {
  if (!x.defined() || x.dim() < 1 || !x.is_floating_point()) {
    throw InputError("likelihood: standard_normal_log_prob needs a floating-point (B, ...) tensor");
  }
  const int64_t batch = x.size(0);
  const int64_t dims = batch == 0 ? 0 : x.numel() / batch;
  const double log_two_pi = std::log(2.0 * M_PI);
  return -0.5 * x.reshape({batch, dims}).pow(2).sum(1) -
         0.5 * static_cast<double>(dims) * log_two_pi;
}

LikelihoodResult log_likelihood(const Velocity& v, const torch::Tensor& x1,
                                const LikelihoodOptions& options, at::Generator& generator) {
  likelihood::validate(options.divergence);
  if (!x1.defined() || x1.dim() < 1 || x1.size(0) < 1 || !x1.is_floating_point()) {
    throw InputError("likelihood: x1 must be a floating-point tensor of shape (B, ...), B >= 1");
  }
  if (c10::InferenceMode::is_enabled()) {
    throw RuntimeError(
        "likelihood: log_likelihood cannot run under c10::InferenceMode; "
        "use torch::NoGradGuard instead");
  }
  const int64_t batch = x1.size(0);
  const int64_t dims = x1.numel() / batch;
  const auto shape = x1.sizes().vec();
  const bool keep_graph = options.differentiable;

  // The probes are drawn once here and held fixed for every evaluation of the solve.
  torch::Tensor probes;
  if (options.divergence.estimator == "hutchinson") {
    probes = draw_probes(x1, options.divergence, generator);
  }

  // Augmented state (B, D + 1) = [x flattened, l]: one tensor, so any solver
  // works unchanged and the adaptive error norm covers the log-density too.
  torch::Tensor x_start = keep_graph ? x1 : (x1.is_inference() ? x1.clone() : x1.detach());
  torch::Tensor state =
      torch::cat({x_start.reshape({batch, dims}), torch::zeros({batch, 1}, x1.options())}, 1);
  const bool analytic = options.exact_divergence && !keep_graph &&
                        options.divergence.estimator == "exact";
  VectorField augmented = [&](double t, const torch::Tensor& s) {
    torch::Tensor x = s.narrow(1, 0, dims).reshape(shape);
    torch::Tensor t_batch = torch::full({batch}, t, x1.options());
    likelihood::VelocityDivergence vd;
    if (!analytic || !options.exact_divergence(x, t_batch, &vd.v, &vd.div)) {
      vd = likelihood::velocity_and_divergence(v, x, t_batch, options.divergence, probes,
                                               keep_graph);
    }
    return torch::cat({vd.v.reshape({batch, dims}), vd.div.reshape({batch, 1}).to(vd.v.dtype())},
                      1);
  };

  // Integrate data (t = 1) back to noise (t = 0).
  SolverOptions solver = options.solver;
  solver.t0 = 1.0;
  solver.t1 = 0.0;
  SolveResult solved = solve_ode(augmented, state, solver);

  LikelihoodResult result;
  result.x0 = solved.x.narrow(1, 0, dims).reshape(shape);
  result.delta_log = solved.x.select(1, dims);
  result.log_p0 = standard_normal_log_prob(result.x0);
  result.log_p1 = result.log_p0 + result.delta_log;
  result.stats = solved.stats;
  return result;
}

}  // namespace fm
