#include "fm/solvers/solver.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "fm/common/error.h"
#include "fm/solvers/runge_kutta.h"

namespace fm {
namespace {

std::string joined_names() {
  std::string names;
  for (const auto& name : solver_names()) names += (names.empty() ? "" : ", ") + name;
  return names;
}

std::string number(double value) {
  std::ostringstream s;
  s.precision(10);
  s << value;
  return s.str();
}

// The number of uniform steps a fixed-step solve takes, from steps and/or step_size.
int64_t resolve_steps(const SolverOptions& o) {
  const double span = std::abs(o.t1 - o.t0);
  if (o.step_size < 0.0 || !std::isfinite(o.step_size)) {
    throw InputError("solver: step_size=" + number(o.step_size) +
                     " must be > 0 (or 0 to use steps)");
  }
  if (o.steps < 0) {
    throw InputError("solver: steps=" + std::to_string(o.steps) + " must be >= 1");
  }
  if (o.step_size == 0.0) {
    if (o.steps == 0) {
      throw InputError("solver: method '" + o.method + "' needs steps >= 1 or step_size > 0");
    }
    return o.steps;
  }

  // A step size must tile |t1 - t0| exactly: the grid is uniform by contract.
  const double ratio = span / o.step_size;
  const auto from_size = static_cast<int64_t>(std::llround(ratio));
  if (from_size < 1 || std::abs(ratio - static_cast<double>(from_size)) > 1e-6 * ratio) {
    throw InputError("solver: step_size=" + number(o.step_size) + " does not divide |t1 - t0|=" +
                     number(span) + " into whole steps; use steps instead");
  }
  if (o.steps != 0 && o.steps != from_size) {
    throw InputError("solver: steps=" + std::to_string(o.steps) +
                     " and step_size=" + number(o.step_size) +
                     " disagree (|t1 - t0| / step_size = " + number(ratio) + "); give one of them");
  }
  return from_size;
}

void validate(const torch::Tensor& x0, const SolverOptions& o) {
  const auto& names = solver_names();
  if (std::find(names.begin(), names.end(), o.method) == names.end()) {
    throw InputError("solver: method '" + o.method + "' is unknown; valid: " + joined_names());
  }
  if (!std::isfinite(o.t0) || !std::isfinite(o.t1)) {
    throw InputError("solver: t0=" + number(o.t0) + ", t1=" + number(o.t1) + " must be finite");
  }
  if (!x0.defined() || !x0.is_floating_point()) {
    throw InputError("solver: x0 must be a defined floating-point tensor");
  }
  if (!is_adaptive(o.method)) return;
  if (!(o.rtol >= 0.0) || !(o.atol >= 0.0) || o.rtol + o.atol <= 0.0) {
    throw InputError("solver: rtol=" + number(o.rtol) + ", atol=" + number(o.atol) +
                     " must be >= 0 and not both 0");
  }
  if (o.max_steps < 1) {
    throw InputError("solver: max_steps=" + std::to_string(o.max_steps) + " must be >= 1");
  }
}

}  // namespace

const std::vector<std::string>& solver_names() {
  static const std::vector<std::string> names = {"euler", "midpoint", "heun", "rk4", "dopri5"};
  return names;
}

bool is_adaptive(const std::string& method) { return method == "dopri5"; }

SolveResult solve_ode(const VectorField& f, const torch::Tensor& x0, const SolverOptions& options,
                      const StepObserver& observer) {
  validate(x0, options);
  solvers::check_finite(x0, options.t0, options.method, "initial state");
  // NOTE: an empty interval is a valid request with nothing to do.
  if (options.t0 == options.t1) return SolveResult{x0, SolveStats{}};
  if (is_adaptive(options.method)) return solvers::solve_dopri5(f, x0, options, observer);
  return solvers::solve_fixed_step(f, x0, solvers::fixed_step_tableau(options.method), options.t0,
                                   options.t1, resolve_steps(options), observer);
}

}  // namespace fm
