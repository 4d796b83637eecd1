// Adaptive Dormand-Prince 5(4) (Hairer, Norsett & Wanner, Solving ODEs I, II.4-5).
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <sstream>

#include "fm/common/error.h"
#include "fm/solvers/runge_kutta.h"

namespace fm::solvers {
namespace {

constexpr double kSafety = 0.9;
constexpr double kMinFactor = 0.2;
constexpr double kMaxFactor = 10.0;

// Row 6 of a equals the 5th-order weights b: the last stage is evaluated at the
// new state, so it is the first stage of the next step (FSAL).
const std::vector<double> kC = {0.0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1.0, 1.0};
const std::vector<std::vector<double>> kA = {
    {},
    {1.0 / 5},
    {3.0 / 40, 9.0 / 40},
    {44.0 / 45, -56.0 / 15, 32.0 / 9},
    {19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729},
    {9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656},
    {35.0 / 384, 0.0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84},
};
// b5 - b4: the 4th-order weights are 5179/57600, 0, 7571/16695, 393/640,
// -92097/339200, 187/2100, 1/40.
const std::vector<double> kErrorWeights = {35.0 / 384 - 5179.0 / 57600,
                                           0.0,
                                           500.0 / 1113 - 7571.0 / 16695,
                                           125.0 / 192 - 393.0 / 640,
                                           -2187.0 / 6784 + 92097.0 / 339200,
                                           11.0 / 84 - 187.0 / 2100,
                                           -1.0 / 40};

// RMS over all elements of e / (atol + rtol * max(|a|, |b|)).
double scaled_rms(const torch::Tensor& e, const torch::Tensor& a, const torch::Tensor& b,
                  const SolverOptions& o) {
  if (e.numel() == 0) return 0.0;
  torch::Tensor scale = o.atol + o.rtol * torch::max(a.abs(), b.abs());
  return std::sqrt((e / scale).pow(2).mean().item<double>());
}

// Hairer's starting step |h|: small enough that an Euler step changes the
// state by about 1% of its tolerance-scaled size, refined by one trial slope.
double initial_step(const VectorField& f, double t0, const torch::Tensor& x0,
                    const torch::Tensor& f0, double direction, const SolverOptions& o,
                    SolveStats& stats) {
  const double span = std::abs(o.t1 - o.t0);
  const double d0 = scaled_rms(x0, x0, x0, o);
  const double d1 = scaled_rms(f0, x0, x0, o);
  double h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
  h0 = std::min(h0, span);

  torch::Tensor f1 = f(t0 + direction * h0, x0 + direction * h0 * f0);
  stats.nfe += 1;
  const double d2 = scaled_rms(f1 - f0, x0, x0, o) / h0;

  double h1 = h0;  // a non-finite trial slope leaves the choice to the controller
  if (std::isfinite(d2)) {
    const double d12 = std::max(d1, d2);
    h1 = d12 <= 1e-15 ? std::max(1e-6, h0 * 1e-3) : std::pow(0.01 / d12, 1.0 / 5.0);
  }
  return std::min({100.0 * h0, h1, span});
}

// Factor for the next |h| from the error norm of this attempt.
double step_factor(double error_norm, bool accepted) {
  double factor = kMinFactor;
  if (error_norm == 0.0) {
    factor = kMaxFactor;
  } else if (std::isfinite(error_norm)) {
    factor = std::clamp(kSafety * std::pow(error_norm, -1.0 / 5.0), kMinFactor, kMaxFactor);
  }
  // After a rejection never grow: the same step just failed.
  return accepted ? factor : std::min(factor, 1.0);
}

std::string at_time(double t, double h) {
  std::ostringstream s;
  s.precision(10);
  s << "t=" << t << " (h=" << h << ")";
  return s.str();
}

}  // namespace

SolveResult solve_dopri5(const VectorField& f, const torch::Tensor& x0,
                         const SolverOptions& options, const StepObserver& observer) {
  const double t1 = options.t1;
  const double span = std::abs(t1 - options.t0);
  const double direction = t1 < options.t0 ? -1.0 : 1.0;
  SolveResult result;
  SolveStats& stats = result.stats;

  double t = options.t0;
  torch::Tensor x = x0;
  std::vector<torch::Tensor> k(kC.size());
  k[0] = f(t, x);
  stats.nfe += 1;
  check_finite(k[0], t, "dopri5", "field");
  double h = direction * initial_step(f, t, x, k[0], direction, options, stats);

  while (direction * (t1 - t) > 0.0) {
    // Guard: a step cap and a step that no longer moves t.
    if (stats.n_accepted + stats.n_rejected >= options.max_steps) {
      throw RuntimeError("solver: dopri5 exceeded max_steps=" + std::to_string(options.max_steps) +
                         " at " + at_time(t, h) + " before reaching t1; raise max_steps or " +
                         "loosen rtol/atol");
    }
    // Land exactly on t1; a remainder below rounding level joins this step.
    const bool last = direction * (t1 - (t + h)) <= 1e-12 * span;
    if (last) h = t1 - t;
    // A NaN step (tolerances below what the arithmetic can resolve) is an underflow too.
    if (!(std::abs(h) > 16.0 * DBL_EPSILON * std::max(std::abs(t), span))) {
      throw RuntimeError("solver: dopri5 step size underflow at " + at_time(t, h) +
                         "; the field blows up or is too stiff here, or rtol/atol are too small");
    }

    // Attempt: six new stages; the last stage input is the 5th-order solution.
    torch::Tensor x_new;
    for (size_t i = 1; i < kC.size(); ++i) {
      x_new = combine(x, h, kA[i], k);
      k[i] = f(t + kC[i] * h, x_new);
    }
    stats.nfe += static_cast<int64_t>(kC.size()) - 1;
    const double error_norm = scaled_rms(h * weighted_sum(kErrorWeights, k), x, x_new, options);

    // Accept or reject, then size the next step.
    const bool accepted = error_norm <= 1.0;
    const double h_taken = h;
    h *= step_factor(error_norm, accepted);
    if (!accepted) {
      stats.n_rejected += 1;
      continue;
    }
    stats.n_accepted += 1;
    t = last ? t1 : t + h_taken;
    x = x_new;
    k[0] = k.back();
    check_finite(x, t, "dopri5");
    if (observer) observer(t, x);
  }
  result.x = x;
  return result;
}

}  // namespace fm::solvers
