// Private to fm_solvers: the explicit Runge-Kutta machinery behind solve_ode().
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "fm/solvers/solver.h"

namespace fm::solvers {

// An explicit Runge-Kutta method as a Butcher tableau with s stages:
//   k_i = f(t + c_i h, x + h sum_{j<i} a_ij k_j),   x_{n+1} = x + h sum_i b_i k_i.
// a is strictly lower triangular, stored row by row (row i has i entries).
struct ButcherTableau {
  std::string name;
  std::vector<double> c;               // (s,) stage times as fractions of h
  std::vector<std::vector<double>> a;  // row i: (i,) coefficients on k_0 .. k_{i-1}
  std::vector<double> b;               // (s,) weights of the update
};

// The tableau of a fixed-step method name ("euler", "midpoint", "heun", "rk4").
const ButcherTableau& fixed_step_tableau(const std::string& method);

// sum_j weights[j] k[j], skipping zero weights (so a sparse row costs nothing
// and stages not yet computed may be left undefined). Undefined if all are zero.
torch::Tensor weighted_sum(const std::vector<double>& weights, const std::vector<torch::Tensor>& k);

// x + h * weighted_sum(weights, k).
torch::Tensor combine(const torch::Tensor& x, double h, const std::vector<double>& weights,
                      const std::vector<torch::Tensor>& k);

// Throws RuntimeError naming t and the method when x holds a NaN or an infinity;
// `what` names the tensor in the message ("state", "field").
void check_finite(const torch::Tensor& x, double t, const std::string& method,
                  const std::string& what = "state");

// Exactly `steps` uniform steps of the tableau from t0 to t1 (t1 < t0 allowed).
SolveResult solve_fixed_step(const VectorField& f, const torch::Tensor& x0,
                             const ButcherTableau& tableau, double t0, double t1, int64_t steps,
                             const StepObserver& observer);

// Adaptive Dormand-Prince 5(4) with FSAL, see SolverOptions for the controls.
SolveResult solve_dopri5(const VectorField& f, const torch::Tensor& x0,
                         const SolverOptions& options, const StepObserver& observer);

}  // namespace fm::solvers
