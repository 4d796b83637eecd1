#include "fm/solvers/runge_kutta.h"

#include <sstream>

#include "fm/common/error.h"

namespace fm::solvers {

const ButcherTableau& fixed_step_tableau(const std::string& method) {
  static const std::vector<ButcherTableau> tableaux = {
      {"euler", {0.0}, {{}}, {1.0}},
      // Explicit midpoint: the single update uses only the half-step slope.
      {"midpoint", {0.0, 0.5}, {{}, {0.5}}, {0.0, 1.0}},
      // Heun (explicit trapezoid): average of the slopes at both ends.
      {"heun", {0.0, 1.0}, {{}, {1.0}}, {0.5, 0.5}},
      // Classical RK4 (not the 3/8 rule; known-answers S3 tells them apart).
      {"rk4",
       {0.0, 0.5, 0.5, 1.0},
       {{}, {0.5}, {0.0, 0.5}, {0.0, 0.0, 1.0}},
       {1.0 / 6.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 6.0}},
  };
  for (const auto& tableau : tableaux) {
    if (tableau.name == method) return tableau;
  }
  throw InputError("solver: method '" + method + "' has no fixed-step tableau");
}

torch::Tensor weighted_sum(const std::vector<double>& weights,
                           const std::vector<torch::Tensor>& k) {
  torch::Tensor sum;
  for (size_t j = 0; j < weights.size(); ++j) {
    if (weights[j] == 0.0) continue;
    sum = sum.defined() ? sum + weights[j] * k[j] : weights[j] * k[j];
  }
  return sum;
}

torch::Tensor combine(const torch::Tensor& x, double h, const std::vector<double>& weights,
                      const std::vector<torch::Tensor>& k) {
  torch::Tensor increment = weighted_sum(weights, k);
  return increment.defined() ? x + h * increment : x;
}

void check_finite(const torch::Tensor& x, double t, const std::string& method,
                  const std::string& what) {
  if (torch::isfinite(x).all().item<bool>()) return;
  std::ostringstream message;
  message.precision(10);
  message << "solver: non-finite " << what << " (NaN or inf) at t=" << t << " with method '"
          << method << "'; the field blew up or the step is too large (try more steps or dopri5)";
  throw RuntimeError(message.str());
}

SolveResult solve_fixed_step(const VectorField& f, const torch::Tensor& x0,
                             const ButcherTableau& tableau, double t0, double t1, int64_t steps,
                             const StepObserver& observer) {
  // One signed step size: t1 < t0 gives h < 0 and the field is used as is.
  const double h = (t1 - t0) / static_cast<double>(steps);
  const size_t n_stages = tableau.b.size();
  SolveResult result;
  torch::Tensor x = x0;
  std::vector<torch::Tensor> k(n_stages);
  for (int64_t n = 0; n < steps; ++n) {
    // Times come from the grid index, not by accumulating h, so no drift.
    const double t = t0 + static_cast<double>(n) * h;
    for (size_t i = 0; i < n_stages; ++i) {
      k[i] = f(t + tableau.c[i] * h, combine(x, h, tableau.a[i], k));
    }
    x = combine(x, h, tableau.b, k);
    result.stats.nfe += static_cast<int64_t>(n_stages);
    result.stats.n_accepted += 1;

    const double t_next = n + 1 == steps ? t1 : t0 + static_cast<double>(n + 1) * h;
    check_finite(x, t_next, tableau.name);
    if (observer) observer(t_next, x);
  }
  result.x = x;
  return result;
}

}  // namespace fm::solvers
