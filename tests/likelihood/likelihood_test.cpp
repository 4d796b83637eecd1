// Known-answer cases L2 (fixed probes through a solve) and L3 (shared/cases/
// known-answers.md), and closed-form CNF likelihoods for fm::log_likelihood.
// All in float64; each tolerance is stated beside its check.
#include "fm/likelihood/likelihood.h"

#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "fm/common/error.h"
#include "fm/common/random.h"

namespace fm {
namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);
const double kLogTwoPi = std::log(2.0 * M_PI);

LikelihoodOptions with_solver(const std::string& method, int64_t steps = 0, double tol = 1e-10) {
  LikelihoodOptions o;
  o.solver.method = method;
  o.solver.steps = steps;
  o.solver.rtol = tol;
  o.solver.atol = tol;
  return o;
}

// v(x) = x A^T row by row, i.e. A x for every sample.
Velocity linear(const torch::Tensor& a) {
  return [a](const torch::Tensor& x, const torch::Tensor&) { return x.matmul(a.t()); };
}

// log p1(y) for v = a x in 1-D: x(0) = y e^-a, l(0) = -a.
double scalar_linear_log_p1(double a, double y) {
  return -kLogTwoPi / 2 - a - y * y * std::exp(-2 * a) / 2;
}

// --- L2: the probe is fixed through a whole solve ------------------------

TEST(LogLikelihood, RademacherProbeHeldFixedThroughDopri5GivesPlusOrMinusTwo) {
  // A = [[0, 1], [1, 0]] has trace 0, but eps^T A eps = 2 eps_1 eps_2 = +-2 for every
  // draw; l(0) = -(that) exactly if the probe never changes during the solve.
  auto x1 = torch::randn({64, 2}, make_generator(1), kF64);
  LikelihoodOptions options = with_solver("dopri5", 0, 1e-6);
  options.divergence.estimator = "hutchinson";
  options.divergence.probe = "rademacher";
  auto gen = make_generator(2);
  auto r = log_likelihood(linear(torch::tensor({{0.0, 1.0}, {1.0, 0.0}}, kF64)), x1, options, gen);

  auto same_gen = make_generator(2);
  auto probes = draw_probes(x1, options.divergence, same_gen)[0];
  auto expected = -2.0 * probes.select(1, 0) * probes.select(1, 1);
  // Rounding only: dopri5's weights sum to 1, so a constant rate integrates exactly.
  EXPECT_TRUE(torch::allclose(r.delta_log, expected, 0.0, 1e-9)) << r.delta_log;
  EXPECT_GT(r.stats.n_accepted, 1);  // several steps, every one with the same probe
  EXPECT_TRUE(torch::any(r.delta_log > 0).item<bool>());
  EXPECT_TRUE(torch::any(r.delta_log < 0).item<bool>());
}

// --- L3: differentiable log-likelihood -----------------------------------

TEST(LogLikelihood, ScalarLinearFieldMatchesClosedFormAtHalf) {
  auto x1 = torch::tensor({{1.0}}, kF64);
  auto gen = make_generator(0);
  auto r = log_likelihood(linear(torch::tensor({{0.5}}, kF64)), x1, with_solver("rk4", 50), gen);
  EXPECT_NEAR(r.log_p1.item<double>(), -1.602878, 1e-6);  // the known answer's 6 decimals
  // RK4 at h = 0.02 on a linear field: error ~1e-12; tolerance 1e-9.
  EXPECT_NEAR(r.log_p1.item<double>(), scalar_linear_log_p1(0.5, 1.0), 1e-9);
  EXPECT_NEAR(r.delta_log.item<double>(), -0.5, 1e-12);
  EXPECT_EQ(r.stats.nfe, 200);  // 50 steps x 4 stages
}

TEST(LogLikelihood, GradientWithRespectToCapturedScalarIsThreeByAutogradAndFiniteDifferences) {
  // d log p1 / da = -1 + y^2 e^-2a = 3 at a = 0, y = 2.
  auto x1 = torch::tensor({{2.0}}, kF64);
  auto a = torch::zeros({}, kF64).requires_grad_(true);
  Velocity field = [&](const torch::Tensor& x, const torch::Tensor&) { return a * x; };
  LikelihoodOptions options = with_solver("rk4", 20);
  options.differentiable = true;
  auto gen = make_generator(0);
  log_likelihood(field, x1, options, gen).log_p1.sum().backward();
  EXPECT_NEAR(a.grad().item<double>(), 3.0, 1e-8);  // RK4 error at h = 0.05: ~1e-10

  // Central differences with step 1e-4: truncation ~ h^2 |f'''| / 6 ~ 3e-8; tolerance 1e-6.
  auto log_p1_at = [&](double value) {
    return log_likelihood(linear(torch::full({1, 1}, value, kF64)), x1, with_solver("rk4", 20), gen)
        .log_p1.item<double>();
  };
  const double h = 1e-4;
  EXPECT_NEAR((log_p1_at(h) - log_p1_at(-h)) / (2 * h), 3.0, 1e-6);
}

TEST(LogLikelihood, TwoDimensionalContractionAtOriginGivesKnownValue) {
  // v = -x: x(0) = 0 and l(0) = -(-2) = 2, so log p1(0) = -log(2 pi) + 2 = 0.162123.
  auto x1 = torch::zeros({1, 2}, kF64);
  Velocity contraction = [](const torch::Tensor& x, const torch::Tensor&) { return -x; };
  auto gen = make_generator(0);
  auto r = log_likelihood(contraction, x1, with_solver("dopri5"), gen);
  EXPECT_NEAR(r.log_p1.item<double>(), 0.162123, 1e-6);          // 6 given decimals
  EXPECT_NEAR(r.log_p1.item<double>(), -kLogTwoPi + 2.0, 1e-9);  // dopri5 at tol 1e-10
}

TEST(LogLikelihood, NonDifferentiableRunKeepsNoGraphAndAgreesWithDifferentiableRun) {
  auto x1 = torch::tensor({{2.0}, {-1.0}}, kF64);
  auto a = torch::full({}, 0.3, kF64).requires_grad_(true);
  Velocity field = [&](const torch::Tensor& x, const torch::Tensor&) { return a * x; };
  LikelihoodOptions options = with_solver("rk4", 10);
  auto gen = make_generator(0);
  auto flat = log_likelihood(field, x1, options, gen);
  EXPECT_FALSE(flat.log_p1.requires_grad());
  EXPECT_FALSE(flat.x0.requires_grad());

  options.differentiable = true;
  auto kept = log_likelihood(field, x1, options, gen);
  EXPECT_TRUE(kept.log_p1.requires_grad());
  // Same arithmetic either way: rounding only.
  EXPECT_TRUE(torch::allclose(flat.log_p1, kept.log_p1.detach(), 0.0, 1e-12));
}

// Hutchinson over a batch in passes of 3 rows: the same probes (the same
// seed), so the same log-densities as in one pass, to rounding.
TEST(LogLikelihood, RowsPerPassGivesTheOnePassLogDensities) {
  auto gen = make_generator(4);
  const auto w = torch::randn({2, 2}, gen, kF64);
  const auto x1 = torch::randn({7, 2}, gen, kF64);
  Velocity field = [&](const torch::Tensor& x, const torch::Tensor& t) {
    return torch::tanh(x.matmul(w.t())) * t.unsqueeze(1) - x;
  };
  LikelihoodOptions options = with_solver("rk4", 8);
  options.divergence.estimator = "hutchinson";
  auto one_gen = make_generator(9);
  const auto one_pass = log_likelihood(field, x1, options, one_gen);
  options.divergence.rows_per_pass = 3;
  auto passes_gen = make_generator(9);
  const auto passes = log_likelihood(field, x1, options, passes_gen);
  EXPECT_TRUE(torch::allclose(passes.log_p1, one_pass.log_p1, 0.0, 1e-12));
  EXPECT_TRUE(torch::allclose(passes.x0, one_pass.x0, 0.0, 1e-12));
}

// --- Closed-form flows -----------------------------------------------------

TEST(LogLikelihood, LinearFieldMatchesMatrixExponentialClosedForm) {
  // v = A x: x(0) = exp(-A) x1 and l(0) = -tr(A) = -0.1.
  auto a = torch::tensor({{0.3, -0.7}, {0.4, -0.2}}, kF64);
  auto x1 = torch::randn({5, 2}, make_generator(4), kF64);
  auto gen = make_generator(0);
  auto r = log_likelihood(linear(a), x1, with_solver("dopri5"), gen);
  auto x0 = x1.matmul(torch::matrix_exp(-a).t());
  auto expected = -0.5 * x0.pow(2).sum(1) - kLogTwoPi - 0.1;
  // dopri5 at rtol = atol = 1e-10: tolerance 1e-7.
  EXPECT_TRUE(torch::allclose(r.x0, x0, 0.0, 1e-7)) << r.x0 - x0;
  EXPECT_TRUE(torch::allclose(r.log_p1, expected, 0.0, 1e-7)) << r.log_p1 - expected;
  EXPECT_EQ(r.stats.nfe, 2 + 6 * (r.stats.n_accepted + r.stats.n_rejected));
}

// The exact marginal velocity of the CondOT path at sigma_min = 0 from N(0, I) to
// N(mu, s^2 I) with the coupling x1 = mu + s x0: x_t = t mu + sigma_t x0 with
// sigma_t = 1 + t (s - 1), so v(x, t) = mu + (s - 1) (x - t mu) / sigma_t.
Velocity gaussian_cnf(const torch::Tensor& mu, double s) {
  return [mu, s](const torch::Tensor& x, const torch::Tensor& t) {
    auto tt = t.unsqueeze(1);
    return mu + (s - 1.0) * (x - tt * mu) / (1.0 + tt * (s - 1.0));
  };
}

// log N(x; mu, s^2 I) per row.
torch::Tensor gaussian_log_density(const torch::Tensor& x, const torch::Tensor& mu, double s) {
  const double d = static_cast<double>(x.size(1));
  return -0.5 * ((x - mu) / s).pow(2).sum(1) - d * std::log(s) - 0.5 * d * kLogTwoPi;
}

TEST(LogLikelihood, ExactCnfToGaussianTargetGivesGaussianLogDensity) {
  auto mu = torch::tensor({1.0, -2.0, 0.5}, kF64);
  auto x1 = torch::randn({8, 3}, make_generator(5), kF64) * 1.5 + mu;
  for (double s : {2.0, 0.5}) {
    auto gen = make_generator(0);
    auto r = log_likelihood(gaussian_cnf(mu, s), x1, with_solver("dopri5"), gen);
    auto expected = gaussian_log_density(x1, mu, s);
    // dopri5 at tol 1e-10: tolerance 1e-7. Also l(0) = -D log s exactly in theory.
    EXPECT_TRUE(torch::allclose(r.log_p1, expected, 0.0, 1e-7)) << "s=" << s;
    EXPECT_TRUE(torch::allclose(r.delta_log, torch::full({8}, -3 * std::log(s), kF64), 0.0, 1e-7));
    EXPECT_TRUE(torch::allclose(r.x0, (x1 - mu) / s, 0.0, 1e-7));
  }
}

TEST(LogLikelihood, RademacherHutchinsonIsExactWhenTheJacobianIsAMultipleOfIdentity) {
  // The Gaussian CNF's Jacobian is c(t) I, and eps^T c I eps = c D for +-1 probes.
  auto mu = torch::tensor({1.0, -2.0, 0.5}, kF64);
  auto x1 = torch::randn({8, 3}, make_generator(6), kF64);
  LikelihoodOptions options = with_solver("rk4", 40);
  options.divergence.estimator = "hutchinson";
  options.divergence.probe = "rademacher";
  auto gen = make_generator(9);
  auto r = log_likelihood(gaussian_cnf(mu, 2.0), x1, options, gen);
  // RK4 at h = 0.025 on this rational field: error < 1e-7; tolerance 1e-6.
  EXPECT_TRUE(torch::allclose(r.log_p1, gaussian_log_density(x1, mu, 2.0), 0.0, 1e-6));
}

TEST(LogLikelihood, ImageShapedBatchUnderContraction) {
  // v = -x on (B, 1, 2, 2): x(0) = e x1 and l(0) = 4 (D = 4, div = -4).
  auto x1 = torch::randn({2, 1, 2, 2}, make_generator(7), kF64);
  Velocity contraction = [](const torch::Tensor& x, const torch::Tensor&) { return -x; };
  auto gen = make_generator(0);
  auto r = log_likelihood(contraction, x1, with_solver("dopri5"), gen);
  EXPECT_EQ(r.x0.sizes(), x1.sizes());
  auto x0 = x1 * std::exp(1.0);
  auto expected = -0.5 * x0.pow(2).sum({1, 2, 3}) - 2 * kLogTwoPi + 4.0;
  EXPECT_TRUE(torch::allclose(r.log_p1, expected, 0.0, 1e-7));  // dopri5 at tol 1e-10
}

TEST(LogLikelihood, SolverTimesAreAlwaysOneToZero) {
  auto x1 = torch::tensor({{1.0}}, kF64);
  LikelihoodOptions options = with_solver("rk4", 50);
  options.solver.t0 = 0.2;  // ignored: the solve always runs 1 -> 0
  options.solver.t1 = 0.7;
  auto gen = make_generator(0);
  auto r = log_likelihood(linear(torch::tensor({{0.5}}, kF64)), x1, options, gen);
  EXPECT_NEAR(r.log_p1.item<double>(), scalar_linear_log_p1(0.5, 1.0), 1e-9);
}

TEST(LogLikelihood, RunsUnderNoGradGuardAndOnInferenceTensors) {
  torch::Tensor x1;
  {
    c10::InferenceMode inference;
    x1 = torch::full({1, 1}, 1.0, kF64);
  }
  torch::NoGradGuard no_grad;
  auto gen = make_generator(0);
  auto r = log_likelihood(linear(torch::tensor({{0.5}}, kF64)), x1, with_solver("rk4", 50), gen);
  EXPECT_NEAR(r.log_p1.item<double>(), scalar_linear_log_p1(0.5, 1.0), 1e-9);
}

// --- The analytic exact-divergence hook ---------------------------------------

// v = A x with div v = trace(A), as a network's analytic path would give it.
ExactVelocityDivergence analytic_linear(const torch::Tensor& a, bool available, int* calls) {
  return [a, available, calls](const torch::Tensor& x, const torch::Tensor&, torch::Tensor* v,
                               torch::Tensor* div) {
    ++*calls;
    if (!available) return false;
    *v = x.matmul(a.t());
    *div = a.diagonal().sum().expand({x.size(0)}).clone();
    return true;
  };
}

TEST(LogLikelihood, AnalyticExactDivergenceReplacesAutogradWithTheSameResult) {
  auto a = torch::tensor({{-0.5, 0.2}, {0.1, 0.3}}, kF64);
  auto x1 = torch::randn({8, 2}, make_generator(3), kF64);
  auto gen = make_generator(0);
  auto expected = log_likelihood(linear(a), x1, with_solver("rk4", 10), gen);

  int calls = 0;
  LikelihoodOptions options = with_solver("rk4", 10);
  options.exact_divergence = analytic_linear(a, true, &calls);
  Velocity unused = [](const torch::Tensor&, const torch::Tensor&) -> torch::Tensor {
    throw RuntimeError("the autograd path ran");
  };
  auto r = log_likelihood(unused, x1, options, gen);
  EXPECT_EQ(calls, 40);  // every evaluation: 10 steps x 4 stages
  // The same arithmetic up to the summation order of the trace: 1e-12.
  EXPECT_TRUE(torch::allclose(r.log_p1, expected.log_p1, 0.0, 1e-12)) << r.log_p1;
}

TEST(LogLikelihood, AnalyticHookThatDeclinesFallsBackToAutograd) {
  auto a = torch::tensor({{-0.5, 0.2}, {0.1, 0.3}}, kF64);
  auto x1 = torch::randn({4, 2}, make_generator(4), kF64);
  auto gen = make_generator(0);
  auto expected = log_likelihood(linear(a), x1, with_solver("rk4", 5), gen);
  int calls = 0;
  LikelihoodOptions options = with_solver("rk4", 5);
  options.exact_divergence = analytic_linear(a, false, &calls);
  auto r = log_likelihood(linear(a), x1, options, gen);
  EXPECT_EQ(calls, 20);
  EXPECT_TRUE(torch::equal(r.log_p1, expected.log_p1));  // the very same autograd path
}

TEST(LogLikelihood, AnalyticHookIsNotUsedForHutchinsonOrDifferentiableSolves) {
  auto a = torch::tensor({{-0.5, 0.2}, {0.1, 0.3}}, kF64);
  auto x1 = torch::randn({4, 2}, make_generator(5), kF64);
  int calls = 0;
  LikelihoodOptions options = with_solver("rk4", 5);
  options.exact_divergence = analytic_linear(a, true, &calls);
  options.divergence.estimator = "hutchinson";
  auto gen = make_generator(0);
  log_likelihood(linear(a), x1, options, gen);
  options.divergence.estimator = "exact";
  options.differentiable = true;
  log_likelihood(linear(a), x1, options, gen);
  EXPECT_EQ(calls, 0);
}

TEST(LogLikelihood, UnknownEstimatorThrowsInputError) {
  LikelihoodOptions options = with_solver("rk4", 4);
  options.divergence.estimator = "exakt";
  auto gen = make_generator(0);
  EXPECT_THROW(
      log_likelihood(linear(torch::eye(2, kF64)), torch::zeros({1, 2}, kF64), options, gen),
      InputError);
}

TEST(StandardNormalLogProb, SumsOverAllNonBatchDimensions) {
  auto x = torch::tensor({0.0, 1.0, 2.0, 3.0}, kF64).reshape({1, 2, 2});
  // -(0 + 1 + 4 + 9)/2 - 2 log(2 pi); rounding only.
  EXPECT_NEAR(standard_normal_log_prob(x).item<double>(), -7.0 - 2 * kLogTwoPi, 1e-12);
}

}  // namespace
}  // namespace fm
