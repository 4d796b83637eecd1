// Known-answer cases S1-S4 (shared/cases/known-answers.md), convergence orders,
// adaptive stepping and failure reporting of fm::solve_ode. All in float64 unless
// a test says otherwise; each tolerance is stated beside its check.
#include "fm/solvers/solver.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <string>
#include <vector>

#include "fm/common/error.h"

namespace fm {
namespace {

torch::Tensor scalar_state(double value) {
  return torch::full({1}, value, torch::TensorOptions().dtype(torch::kFloat64));
}

double value_of(const torch::Tensor& x) { return x.item<double>(); }

SolverOptions fixed(const std::string& method, int64_t steps, double t0 = 0.0, double t1 = 1.0) {
  SolverOptions o;
  o.method = method;
  o.steps = steps;
  o.t0 = t0;
  o.t1 = t1;
  return o;
}

SolverOptions adaptive(double rtol, double atol, double t0 = 0.0, double t1 = 1.0) {
  SolverOptions o;
  o.method = "dopri5";
  o.rtol = rtol;
  o.atol = atol;
  o.t0 = t0;
  o.t1 = t1;
  return o;
}

// The time named in an error message ("... t=0.123 ...").
double time_in_message(const std::string& message) {
  const auto at = message.find("t=");
  EXPECT_NE(at, std::string::npos) << message;
  return at == std::string::npos ? NAN : std::stod(message.substr(at + 2));
}

const VectorField kDecay = [](double, const torch::Tensor& x) { return -x; };
const VectorField kGrowth = [](double, const torch::Tensor& x) { return x; };
// x' = cos(t) x, x(t) = x(0) exp(sin t): non-autonomous, so it separates the methods.
const VectorField kCosine = [](double t, const torch::Tensor& x) { return std::cos(t) * x; };

// --- S1: reverse time, done once -------------------------------------------

TEST(SolverReverseTime, EulerTenStepsFromOneToZeroGivesOnePointOneToTheTenth) {
  // x' = -x from t = 1 down to 0 with h = -0.1: each step multiplies by 1.1.
  // Tolerance 1e-12: float64 rounding over ten steps. e^-1 would mean time reversed twice.
  auto r = solve_ode(kDecay, scalar_state(1.0), fixed("euler", 10, 1.0, 0.0));
  EXPECT_NEAR(value_of(r.x), std::pow(1.1, 10), 1e-12);  // 2.593742
  EXPECT_NEAR(value_of(r.x), 2.593742, 1e-6);
}

TEST(SolverReverseTime, Rk4TenStepsFromOneToZeroGivesE) {
  // Known answer 2.718280 to 6 decimals (tolerance 1e-6, the precision it is given to).
  auto r = solve_ode(kDecay, scalar_state(1.0), fixed("rk4", 10, 1.0, 0.0));
  EXPECT_NEAR(value_of(r.x), 2.718280, 1e-6);
  // RK4's global error at h = 0.1 is about 2e-6 here: below e, never near e^-1.
  EXPECT_NEAR(value_of(r.x), std::exp(1.0), 5e-6);
}

TEST(SolverReverseTime, Dopri5FromOneToZeroGivesE) {
  // rtol = atol = 1e-8: the global error stays within 100x the local tolerance.
  auto r = solve_ode(kDecay, scalar_state(1.0), adaptive(1e-8, 1e-8, 1.0, 0.0));
  EXPECT_NEAR(value_of(r.x), std::exp(1.0), 1e-6);
}

TEST(SolverReverseTime, Dopri5MatchesAnalyticSolutionOfTimeDependentField) {
  // From x(2) = exp(sin 2) back to t = 0, where x(0) = 1. Tolerance: 100 x rtol.
  auto r =
      solve_ode(kCosine, scalar_state(std::exp(std::sin(2.0))), adaptive(1e-7, 1e-7, 2.0, 0.0));
  EXPECT_NEAR(value_of(r.x), 1.0, 1e-5);
}

TEST(SolverReverseTime, Rk4MatchesAnalyticSolutionOfTimeDependentField) {
  // 100 RK4 steps of h = -0.02: global error ~ h^4 ~ 1e-7; tolerance 1e-6.
  auto r = solve_ode(kCosine, scalar_state(std::exp(std::sin(2.0))), fixed("rk4", 100, 2.0, 0.0));
  EXPECT_NEAR(value_of(r.x), 1.0, 1e-6);
}

TEST(SolverReverseTime, ObserverSeesDecreasingTimesEndingExactlyAtT1) {
  std::vector<double> times;
  solve_ode(kDecay, scalar_state(1.0), fixed("midpoint", 4, 1.0, 0.0),
            [&](double t, const torch::Tensor&) { times.push_back(t); });
  // Exact grid 0.75, 0.5, 0.25, 0 (all representable; tolerance 0).
  EXPECT_EQ(times, (std::vector<double>{0.75, 0.5, 0.25, 0.0}));
}

// --- S2: steps mean steps -------------------------------------------------

TEST(SolverSteps, EulerFiftyStepsGivesOnePointZeroTwoToTheFiftiethFromFiftyEvaluations) {
  int64_t calls = 0;
  VectorField counted = [&](double, const torch::Tensor& x) {
    ++calls;
    return x;
  };
  auto r = solve_ode(counted, scalar_state(1.0), fixed("euler", 50));
  // Tolerance 1e-12: rounding only. One step (2.0) or one-step-per-unit would fail.
  EXPECT_NEAR(value_of(r.x), std::pow(1.02, 50), 1e-12);
  EXPECT_NEAR(value_of(r.x), 2.691588, 1e-6);
  EXPECT_EQ(calls, 50);
  EXPECT_EQ(r.stats.nfe, 50);
  EXPECT_EQ(r.stats.n_accepted, 50);
  EXPECT_EQ(r.stats.n_rejected, 0);
}

struct StageCase {
  std::string method;
  int64_t expected_nfe;  // for 50 steps
};

class SolverStepsNfe : public testing::TestWithParam<StageCase> {};

TEST_P(SolverStepsNfe, NfeIsStepsTimesStagesWhenFiftyStepsAreAsked) {
  int64_t calls = 0;
  VectorField counted = [&](double, const torch::Tensor& x) {
    ++calls;
    return x;
  };
  auto r = solve_ode(counted, scalar_state(1.0), fixed(GetParam().method, 50));
  EXPECT_EQ(calls, GetParam().expected_nfe);
  EXPECT_EQ(r.stats.nfe, GetParam().expected_nfe);
  EXPECT_EQ(r.stats.n_accepted, 50);
  // Every method solves x' = x to within 5e-4 of e at h = 0.02 (Euler's error ~0.027).
  const double tolerance = GetParam().method == "euler" ? 0.03 : 5e-4;
  EXPECT_NEAR(value_of(r.x), std::exp(1.0), tolerance);
}

INSTANTIATE_TEST_SUITE_P(FixedStepMethods, SolverStepsNfe,
                         testing::Values(StageCase{"euler", 50}, StageCase{"midpoint", 100},
                                         StageCase{"heun", 100}, StageCase{"rk4", 200}),
                         [](const auto& info) { return info.param.method; });

TEST(SolverSteps, StepSizeAloneGivesTheSameUniformGrid) {
  SolverOptions o = fixed("euler", 0);
  o.step_size = 0.02;
  auto r = solve_ode(kGrowth, scalar_state(1.0), o);
  EXPECT_NEAR(value_of(r.x), std::pow(1.02, 50), 1e-12);  // rounding only
  EXPECT_EQ(r.stats.nfe, 50);
}

TEST(SolverSteps, AgreeingStepsAndStepSizeAreAccepted) {
  SolverOptions o = fixed("euler", 50);
  o.step_size = 0.02;
  EXPECT_EQ(solve_ode(kGrowth, scalar_state(1.0), o).stats.nfe, 50);
}

TEST(SolverSteps, DisagreeingStepsAndStepSizeThrowInputError) {
  SolverOptions o = fixed("euler", 50);
  o.step_size = 0.05;  // 20 steps, not 50
  EXPECT_THROW(solve_ode(kGrowth, scalar_state(1.0), o), InputError);
}

TEST(SolverSteps, StepSizeThatDoesNotTileTheIntervalThrowsInputError) {
  SolverOptions o = fixed("rk4", 0);
  o.step_size = 0.3;
  EXPECT_THROW(solve_ode(kGrowth, scalar_state(1.0), o), InputError);
}

TEST(SolverOptionsCheck, MissingStepCountThrowsInputError) {
  EXPECT_THROW(solve_ode(kGrowth, scalar_state(1.0), fixed("rk4", 0)), InputError);
  EXPECT_THROW(solve_ode(kGrowth, scalar_state(1.0), fixed("rk4", -3)), InputError);
}

TEST(SolverOptionsCheck, UnknownMethodThrowsInputErrorListingValidNames) {
  try {
    solve_ode(kGrowth, scalar_state(1.0), fixed("rk45", 10));
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("rk45"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("dopri5"), std::string::npos) << e.what();
  }
}

TEST(SolverOptionsCheck, ZeroTolerancesThrowInputError) {
  EXPECT_THROW(solve_ode(kGrowth, scalar_state(1.0), adaptive(0.0, 0.0)), InputError);
  EXPECT_THROW(solve_ode(kGrowth, scalar_state(1.0), adaptive(-1e-3, 1e-3)), InputError);
}

TEST(SolverOptionsCheck, EmptyIntervalReturnsTheInitialStateWithoutEvaluating) {
  auto r = solve_ode(kGrowth, scalar_state(3.0), fixed("rk4", 10, 0.5, 0.5));
  EXPECT_EQ(value_of(r.x), 3.0);
  EXPECT_EQ(r.stats.nfe, 0);
}

// --- S3: which Runge-Kutta ------------------------------------------------

const VectorField kQuartic = [](double t, const torch::Tensor& x) {
  return torch::full_like(x, std::pow(t, 4));
};
const VectorField kSquare = [](double t, const torch::Tensor& x) {
  return torch::full_like(x, t * t);
};

TEST(SolverTableau, Rk4OneStepOnTFourthIsClassicalNotThreeEighths) {
  // (0 + 2/16 + 2/16 + 1) / 6 = 5/24 = 0.208333; the 3/8 rule gives 0.203704. Rounding only.
  auto r = solve_ode(kQuartic, scalar_state(0.0), fixed("rk4", 1));
  EXPECT_NEAR(value_of(r.x), 5.0 / 24.0, 1e-15);
}

TEST(SolverTableau, MidpointOneStepOnTSquaredGivesOneQuarter) {
  auto r = solve_ode(kSquare, scalar_state(0.0), fixed("midpoint", 1));
  EXPECT_NEAR(value_of(r.x), 0.25, 1e-15);  // f(1/2) = 1/4; Heun would give 0.5
}

TEST(SolverTableau, HeunOneStepOnTSquaredGivesOneHalf) {
  auto r = solve_ode(kSquare, scalar_state(0.0), fixed("heun", 1));
  EXPECT_NEAR(value_of(r.x), 0.5, 1e-15);  // (f(0) + f(1)) / 2
}

TEST(SolverTableau, EulerOneStepOnTSquaredUsesOnlyTheStartSlope) {
  auto r = solve_ode(kSquare, scalar_state(0.0), fixed("euler", 1));
  EXPECT_EQ(value_of(r.x), 0.0);  // f(0) = 0 exactly
}

// --- S4: Euler by hand, and 2e ------------------------------------------

TEST(SolverEuler, HandWorkedStepsMatchToFourDecimals) {
  VectorField f = [](double t, const torch::Tensor& y) { return 2.0 - 2.0 * y - std::exp(-4 * t); };
  std::vector<double> times, values;
  solve_ode(f, scalar_state(1.0), fixed("euler", 5, 0.0, 0.5),
            [&](double t, const torch::Tensor& y) {
              times.push_back(t);
              values.push_back(value_of(y));
            });
  const std::vector<double> by_hand = {0.9, 0.853, 0.8374, 0.8398, 0.8517};
  ASSERT_EQ(values.size(), by_hand.size());
  for (size_t i = 0; i < by_hand.size(); ++i) {
    // The hand values are rounded to 4 decimals: tolerance half a unit in the last place.
    EXPECT_NEAR(values[i], by_hand[i], 5e-5) << "step " << i + 1;
    EXPECT_NEAR(times[i], 0.1 * static_cast<double>(i + 1), 1e-15);
  }
  // Euler's error against y = 1 + (e^-4t - e^-2t)/2 at t = 0.5 is about 0.032, not 0.
  EXPECT_NEAR(1.0 + (std::exp(-2.0) - std::exp(-1.0)) / 2 - values.back(), 0.032, 1e-3);
}

TEST(SolverHighOrder, Rk4AndDopri5ReachTwoEOnTwoXT) {
  VectorField f = [](double t, const torch::Tensor& x) { return 2.0 * t * x; };
  // RK4 with 100 steps: error ~1e-8 (tolerance 1e-6).
  EXPECT_NEAR(value_of(solve_ode(f, scalar_state(2.0), fixed("rk4", 100)).x), 2.0 * std::exp(1.0),
              1e-6);
  // dopri5 at rtol = atol = 1e-8: tolerance 1e-6 (100 x the local tolerance x 2e).
  EXPECT_NEAR(value_of(solve_ode(f, scalar_state(2.0), adaptive(1e-8, 1e-8)).x), 5.436564, 1e-6);
}

// --- Convergence order ----------------------------------------------------

struct OrderCase {
  std::string method;
  double order;
};

class SolverOrder : public testing::TestWithParam<OrderCase> {};

TEST_P(SolverOrder, MeasuredOrderMatchesTheoryWhenHalvingTheStep) {
  // Least-squares slope of log|error| against log h over h = 2/40 .. 2/320 on
  // x' = cos(t) x, t in [0, 2]; tolerance 0.2 on the slope (pre-asymptotic terms).
  const double exact = std::exp(std::sin(2.0));
  std::vector<double> log_h, log_error;
  for (int64_t steps : {40, 80, 160, 320}) {
    auto r = solve_ode(kCosine, scalar_state(1.0), fixed(GetParam().method, steps, 0.0, 2.0));
    log_h.push_back(std::log(2.0 / static_cast<double>(steps)));
    log_error.push_back(std::log(std::abs(value_of(r.x) - exact)));
  }
  double mean_h = 0, mean_e = 0;
  for (size_t i = 0; i < log_h.size(); ++i) mean_h += log_h[i] / 4, mean_e += log_error[i] / 4;
  double covariance = 0, variance = 0;
  for (size_t i = 0; i < log_h.size(); ++i) {
    covariance += (log_h[i] - mean_h) * (log_error[i] - mean_e);
    variance += (log_h[i] - mean_h) * (log_h[i] - mean_h);
  }
  EXPECT_NEAR(covariance / variance, GetParam().order, 0.2);
}

INSTANTIATE_TEST_SUITE_P(FixedStepMethods, SolverOrder,
                         testing::Values(OrderCase{"euler", 1}, OrderCase{"midpoint", 2},
                                         OrderCase{"heun", 2}, OrderCase{"rk4", 4}),
                         [](const auto& info) { return info.param.method; });

// --- Adaptive stepping ----------------------------------------------------

TEST(SolverDopri5, HitsAnalyticSolutionWithinToleranceAndLandsOnT1) {
  std::vector<double> times;
  auto r = solve_ode(kCosine, scalar_state(1.0), adaptive(1e-6, 1e-6, 0.0, 2.0),
                     [&](double t, const torch::Tensor&) { times.push_back(t); });
  // Global error within 100 x rtol x |x| (|x| <= e).
  EXPECT_NEAR(value_of(r.x), std::exp(std::sin(2.0)), 3e-4);
  ASSERT_FALSE(times.empty());
  EXPECT_EQ(times.back(), 2.0);  // the last step is clipped to land exactly
  for (size_t i = 1; i < times.size(); ++i) EXPECT_GT(times[i], times[i - 1]);
  EXPECT_EQ(static_cast<int64_t>(times.size()), r.stats.n_accepted);
}

TEST(SolverDopri5, TighterToleranceGivesSmallerErrorAndMoreSteps) {
  const double exact = std::exp(std::sin(2.0));
  auto loose = solve_ode(kCosine, scalar_state(1.0), adaptive(1e-4, 1e-4, 0.0, 2.0));
  auto tight = solve_ode(kCosine, scalar_state(1.0), adaptive(1e-10, 1e-10, 0.0, 2.0));
  EXPECT_LT(std::abs(value_of(tight.x) - exact), 1e-8);  // 100 x the tight tolerance
  EXPECT_LT(std::abs(value_of(tight.x) - exact), std::abs(value_of(loose.x) - exact));
  EXPECT_GT(tight.stats.n_accepted, loose.stats.n_accepted);
}

TEST(SolverDopri5, CountsAcceptedAndRejectedStepsWithFsal) {
  // A stiff relaxation onto cos t: the stability limit forces rejected steps.
  VectorField stiff = [](double t, const torch::Tensor& x) { return -50.0 * (x - std::cos(t)); };
  int64_t calls = 0;
  VectorField counted = [&](double t, const torch::Tensor& x) {
    ++calls;
    return stiff(t, x);
  };
  auto r = solve_ode(counted, scalar_state(0.0), adaptive(1e-6, 1e-6, 0.0, 3.0));
  EXPECT_GE(r.stats.n_accepted, 1);
  EXPECT_GE(r.stats.n_rejected, 1);
  // Two evaluations choose the first step; then 6 per attempt thanks to FSAL.
  EXPECT_EQ(r.stats.nfe, 2 + 6 * (r.stats.n_accepted + r.stats.n_rejected));
  EXPECT_EQ(calls, r.stats.nfe);
  // x(t) = (2500 cos t + 50 sin t - 2500 e^-50t) / 2501: tolerance 100 x rtol.
  const double exact = (2500 * std::cos(3.0) + 50 * std::sin(3.0) - 2500 * std::exp(-150.0)) / 2501;
  EXPECT_NEAR(value_of(r.x), exact, 1e-4);
}

// --- Failures -------------------------------------------------------------

const VectorField kBlowUp = [](double, const torch::Tensor& x) { return x * x; };

TEST(SolverFailure, EulerOnBlowUpThrowsRuntimeErrorNamingT) {
  // x' = x^2, x(0) = 1 blows up at t = 1; Euler lags a little, then overflows.
  try {
    solve_ode(kBlowUp, scalar_state(1.0), fixed("euler", 2000, 0.0, 2.0));
    FAIL() << "expected RuntimeError";
  } catch (const RuntimeError& e) {
    const double t = time_in_message(e.what());
    EXPECT_GT(t, 1.0) << e.what();
    EXPECT_LT(t, 2.0) << e.what();
  }
}

TEST(SolverFailure, Dopri5OnBlowUpThrowsRuntimeErrorNamingTNearTheSingularity) {
  try {
    solve_ode(kBlowUp, scalar_state(1.0), adaptive(1e-6, 1e-6, 0.0, 2.0));
    FAIL() << "expected RuntimeError";
  } catch (const RuntimeError& e) {
    EXPECT_NEAR(time_in_message(e.what()), 1.0, 1e-2) << e.what();
  }
}

TEST(SolverFailure, Dopri5BeyondMaxStepsThrowsRuntimeError) {
  SolverOptions o = adaptive(1e-10, 1e-10, 0.0, 10.0);
  o.max_steps = 5;
  try {
    solve_ode(kCosine, scalar_state(1.0), o);
    FAIL() << "expected RuntimeError";
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("max_steps=5"), std::string::npos) << e.what();
    EXPECT_LT(time_in_message(e.what()), 10.0) << e.what();
  }
}

TEST(SolverFailure, NonFiniteInitialStateThrowsRuntimeError) {
  EXPECT_THROW(solve_ode(kDecay, scalar_state(NAN), fixed("euler", 3)), RuntimeError);
}

// --- Shapes and dtypes ----------------------------------------------------

TEST(SolverShapes, ImageShapedFloat32StateKeepsShapeAndDtype) {
  auto x0 = torch::arange(24, torch::kFloat32).reshape({2, 3, 2, 2}) / 24.0;
  for (const std::string method : {"rk4", "dopri5"}) {
    SolverOptions o = method == "rk4" ? fixed("rk4", 20) : adaptive(1e-6, 1e-6);
    auto r = solve_ode(kDecay, x0, o);
    EXPECT_EQ(r.x.sizes(), x0.sizes());
    EXPECT_EQ(r.x.dtype(), torch::kFloat32);
    // float32: about 1e-5 relative (known-answers), plus the method's own error.
    EXPECT_TRUE(torch::allclose(r.x, x0 * std::exp(-1.0), 1e-5, 1e-6)) << method;
  }
}

}  // namespace
}  // namespace fm
