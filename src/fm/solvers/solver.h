// ODE solvers for dx/dt = f(t, x): fixed-step explicit Runge-Kutta methods and
// the adaptive Dormand-Prince 5(4) pair. Time may run forward (t0 < t1) or in
// reverse (t0 > t1); the grid is built once from (t0, t1) and the field is never
// negated, so reverse integration is a single reversal of time.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace fm {

// The right-hand side f(t, x). x: any shape (usually (B, D) or (B, C, H, W));
// returns a tensor of the same shape. t is a plain scalar shared by the batch.
using VectorField = std::function<torch::Tensor(double t, const torch::Tensor& x)>;

// Names accepted by SolverOptions::method.
// Fixed step: "euler" (1 stage), "midpoint" (2), "heun" (2), "rk4" (classical, 4).
// Adaptive: "dopri5" (7 stages with FSAL: 6 new evaluations per attempted step).
const std::vector<std::string>& solver_names();
bool is_adaptive(const std::string& method);

struct SolverOptions {
  std::string method = "rk4";  // one of solver_names()
  double t0 = 0.0;             // start time
  double t1 = 1.0;             // end time; t1 < t0 integrates backwards
  // Fixed-step methods: exactly `steps` uniform steps of size (t1 - t0) / steps,
  // so NFE = steps x stages. step_size > 0 may be given instead; if both are
  // given they must agree (|t1 - t0| / step_size == steps), else InputError.
  // A step_size alone must divide |t1 - t0| into whole steps (to 1e-6 relative).
  int64_t steps = 0;
  double step_size = 0.0;
  // dopri5: per-element tolerance atol + rtol * max(|x_n|, |x_{n+1}|), RMS norm
  // over all elements; first step from the Hairer-Norsett-Wanner heuristic.
  double rtol = 1e-5;
  double atol = 1e-5;
  int64_t max_steps = 100000;  // dopri5: accepted + rejected steps before failing
};

struct SolveStats {
  int64_t nfe = 0;          // evaluations of the field
  int64_t n_accepted = 0;   // steps taken (fixed-step: == steps)
  int64_t n_rejected = 0;   // dopri5 only
};

struct SolveResult {
  torch::Tensor x;   // state at t1, same shape as x0
  SolveStats stats;
};

// Called after every accepted step with the new time and state (e.g. to record
// a trajectory). The state must not be modified.
using StepObserver = std::function<void(double t, const torch::Tensor& x)>;

// Integrates from options.t0 to options.t1 starting at x0; t0 == t1 returns x0
// without evaluating f. The solver uses no autograd itself: f decides.
// Throws InputError for bad options (unknown method, steps < 1, steps and
// step_size disagreeing) and RuntimeError naming t for a non-finite state,
// a dopri5 step size underflow or exceeding max_steps.
SolveResult solve_ode(const VectorField& f, const torch::Tensor& x0, const SolverOptions& options,
                      const StepObserver& observer = nullptr);

}  // namespace fm
