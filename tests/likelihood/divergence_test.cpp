// Known-answer cases L1 and L2 (shared/cases/known-answers.md) for fm::divergence
// and fm::draw_probes. All in float64; each tolerance is stated beside its check.
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "fm/common/error.h"
#include "fm/common/random.h"
#include "fm/likelihood/likelihood.h"

namespace fm {
namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);

torch::Tensor times_like(const torch::Tensor& x, double t) {
  return torch::full({x.size(0)}, t, x.options());
}

// v(x) = x A^T row by row, i.e. A x for every sample.
Velocity linear(const torch::Tensor& a) {
  return [a](const torch::Tensor& x, const torch::Tensor&) { return x.matmul(a.t()); };
}

DivergenceOptions hutchinson(const std::string& probe, int64_t n_probes) {
  DivergenceOptions o;
  o.estimator = "hutchinson";
  o.probe = probe;
  o.n_probes = n_probes;
  return o;
}

double sample_variance(const torch::Tensor& x) { return x.var().item<double>(); }

// --- L1: batched exact divergence -------------------------------------------

TEST(ExactDivergence, ElementwiseSquareGivesEachRowItsOwnTrace) {
  auto x = torch::tensor({{1.0, 2.0}, {3.0, 4.0}}, kF64);
  Velocity square = [](const torch::Tensor& x, const torch::Tensor&) { return x * x; };
  auto div = divergence(square, x, times_like(x, 0.5), DivergenceOptions{});
  // 2x summed per row: [6, 14] exactly (reusing row 0's Jacobian would give [6, 6]).
  EXPECT_TRUE(torch::equal(div, torch::tensor({6.0, 14.0}, kF64))) << div;
}

TEST(ExactDivergence, LinearMapGivesTheTraceForEveryRow) {
  auto a = torch::tensor({{1.0, 2.0}, {3.0, 4.0}}, kF64);
  auto x = torch::tensor({{1.0, 2.0}, {3.0, 4.0}, {-5.0, 0.5}}, kF64);
  auto div = divergence(linear(a), x, times_like(x, 0.0), DivergenceOptions{});
  // trace 5 exactly; a wrong stride gives 4, a ones-vector VJP gives 10.
  EXPECT_TRUE(torch::equal(div, torch::full({3}, 5.0, kF64))) << div;
}

TEST(ExactDivergence, ImageShapedInputSumsOverAllNonBatchDimensions) {
  auto x = torch::arange(16, kF64).reshape({2, 2, 2, 2});
  Velocity square = [](const torch::Tensor& x, const torch::Tensor&) { return x * x; };
  auto div = divergence(square, x, times_like(x, 0.0), DivergenceOptions{});
  // 2 * (0 + ... + 7) = 56 and 2 * (8 + ... + 15) = 184, exact in float64.
  EXPECT_TRUE(torch::equal(div, torch::tensor({56.0, 184.0}, kF64))) << div;
}

TEST(ExactDivergence, FieldIndependentOfXHasZeroDivergence) {
  auto x = torch::ones({3, 2}, kF64);
  Velocity constant = [](const torch::Tensor& x, const torch::Tensor&) {
    return torch::ones_like(x);
  };
  EXPECT_TRUE(torch::equal(divergence(constant, x, times_like(x, 0.0), DivergenceOptions{}),
                           torch::zeros({3}, kF64)));
}

TEST(ExactDivergence, WorksUnderNoGradGuardAndReturnsDetached) {
  auto a = torch::tensor({2.0}, kF64).requires_grad_(true);
  Velocity scaled = [&](const torch::Tensor& x, const torch::Tensor&) { return a * x * x; };
  auto x = torch::tensor({{1.0, 2.0}}, kF64);
  torch::NoGradGuard no_grad;
  auto div = divergence(scaled, x, times_like(x, 0.0), DivergenceOptions{});
  EXPECT_NEAR(div.item<double>(), 12.0, 1e-12);  // 2 a (1 + 2); rounding only
  EXPECT_FALSE(div.requires_grad());
}

TEST(ExactDivergence, UnderInferenceModeThrowsRuntimeError) {
  c10::InferenceMode inference;
  auto x = torch::ones({2, 2}, kF64);
  Velocity square = [](const torch::Tensor& x, const torch::Tensor&) { return x * x; };
  EXPECT_THROW(divergence(square, x, times_like(x, 0.0), DivergenceOptions{}), RuntimeError);
}

TEST(ExactDivergence, CreateGraphLetsGradientsReachCapturedParameters) {
  auto a = torch::tensor({1.5}, kF64).requires_grad_(true);
  Velocity scaled = [&](const torch::Tensor& x, const torch::Tensor&) { return a * x * x; };
  auto x = torch::tensor({{1.0, 2.0}, {3.0, 4.0}}, kF64);
  auto div = divergence(scaled, x, times_like(x, 0.0), DivergenceOptions{}, {}, true);
  // div = 2 a sum(x) per row, so d(sum of div)/da = 2 * 10 = 20; rounding only.
  div.sum().backward();
  EXPECT_NEAR(a.grad().item<double>(), 20.0, 1e-12);
}

TEST(ExactDivergence, ShapeChangingVelocityThrowsInputError) {
  auto x = torch::ones({2, 3}, kF64);
  Velocity wrong = [](const torch::Tensor& x, const torch::Tensor&) { return x.sum(1); };
  EXPECT_THROW(divergence(wrong, x, times_like(x, 0.0), DivergenceOptions{}), InputError);
}

// --- L2: Hutchinson scaling -------------------------------------------------

TEST(HutchinsonDivergence, RademacherOnDiagonalMapIsExactlyTheTraceForAnyK) {
  auto a = torch::diag(torch::tensor({1.0, 2.0, 3.0}, kF64));
  auto x = torch::randn({5, 3}, make_generator(1), kF64);
  for (int64_t k : {1, 3, 10}) {
    auto options = hutchinson("rademacher", k);
    auto gen = make_generator(42);
    auto probes = draw_probes(x, options, gen);
    auto div = divergence(linear(a), x, times_like(x, 0.0), options, probes);
    // eps_i^2 = 1 exactly, so every draw is 6; summing without dividing gives 6K.
    EXPECT_TRUE(torch::allclose(div, torch::full({5}, 6.0, kF64), 0.0, 1e-12)) << "K=" << k;
  }
}

TEST(HutchinsonDivergence, GaussianProbeHasMeanTraceAndVarianceTwentyEight) {
  // One probe per sample, n = 100000 samples of eps^T diag(1,2,3) eps:
  // mean 6, variance 2 (1 + 4 + 9) = 28. Standard errors: mean sqrt(28/n) = 0.017,
  // variance sqrt((mu4 - 28^2)/n) = sqrt(6272/n) = 0.25. Tolerance 5 standard errors.
  const int64_t n = 100000;
  auto a = torch::diag(torch::tensor({1.0, 2.0, 3.0}, kF64));
  auto x = torch::zeros({n, 3}, kF64);
  auto options = hutchinson("gaussian", 1);
  auto gen = make_generator(7);
  auto div = divergence(linear(a), x, times_like(x, 0.0), options, draw_probes(x, options, gen));
  EXPECT_NEAR(div.mean().item<double>(), 6.0, 5 * 0.017);
  EXPECT_NEAR(sample_variance(div), 28.0, 5 * 0.25);
}

TEST(HutchinsonDivergence, AveragingKGaussianProbesDividesTheVarianceByK) {
  // K = 16: mean 6 (not 96), variance 28 / 16 = 1.75. With n = 20000 the standard
  // errors are 0.0094 (mean) and 0.019 (variance); tolerance 5 standard errors.
  const int64_t n = 20000;
  auto a = torch::diag(torch::tensor({1.0, 2.0, 3.0}, kF64));
  auto x = torch::zeros({n, 3}, kF64);
  auto options = hutchinson("gaussian", 16);
  auto gen = make_generator(8);
  auto div = divergence(linear(a), x, times_like(x, 0.0), options, draw_probes(x, options, gen));
  EXPECT_NEAR(div.mean().item<double>(), 6.0, 5 * 0.0094);
  EXPECT_NEAR(sample_variance(div), 1.75, 5 * 0.019);
}

TEST(HutchinsonDivergence, MatchesExactOnNonlinearFieldWithinStandardErrors) {
  // v(x) = tanh(W x + b) + x^3 / 3 in 4-D; 4000 Gaussian probes per sample,
  // evaluated one probe per replicated row so the spread gives a standard error.
  const int64_t batch = 6, dims = 4, k = 4000;
  auto gen = make_generator(3);
  auto w = torch::randn({dims, dims}, gen, kF64);
  auto b = torch::randn({dims}, gen, kF64);
  auto x = torch::randn({batch, dims}, gen, kF64);
  Velocity field = [&](const torch::Tensor& x, const torch::Tensor&) {
    return torch::tanh(x.matmul(w.t()) + b) + x.pow(3) / 3.0;
  };
  auto exact = divergence(field, x, times_like(x, 0.0), DivergenceOptions{});

  auto options = hutchinson("gaussian", 1);
  auto x_rep = x.repeat({k, 1});  // (k * batch, dims), sample-major within each block
  auto probes = draw_probes(x_rep, options, gen);
  auto single = divergence(field, x_rep, times_like(x_rep, 0.0), options, probes).view({k, batch});
  auto mean = single.mean(0);
  auto standard_error = single.std(0) / std::sqrt(static_cast<double>(k));
  for (int64_t i = 0; i < batch; ++i) {
    // Tolerance: 4 standard errors of the probe mean.
    EXPECT_NEAR(mean[i].item<double>(), exact[i].item<double>(),
                4 * standard_error[i].item<double>());
  }

  // The same probes passed as (K, B, D) give exactly their mean (rounding only).
  auto stacked = divergence(field, x, times_like(x, 0.0), hutchinson("gaussian", k),
                            probes.view({k, batch, dims}));
  EXPECT_TRUE(torch::allclose(stacked, mean, 1e-10, 1e-10));
}

TEST(HutchinsonDivergence, ProbesOfTheWrongShapeThrowInputError) {
  auto x = torch::ones({2, 3}, kF64);
  auto options = hutchinson("rademacher", 1);
  auto field = linear(torch::eye(3, kF64));
  EXPECT_THROW(divergence(field, x, times_like(x, 0.0), options, torch::ones({2, 3}, kF64)),
               InputError);
  EXPECT_THROW(divergence(field, x, times_like(x, 0.0), options, torch::ones({1, 2, 4}, kF64)),
               InputError);
  EXPECT_THROW(divergence(field, x, times_like(x, 0.0), options), InputError);
}

// --- rows per autograd pass --------------------------------------------------

// A nonlinear field that records the largest batch it was called with.
struct RecordingField {
  torch::Tensor w, b;
  std::shared_ptr<int64_t> largest = std::make_shared<int64_t>(0);
  std::shared_ptr<int64_t> calls = std::make_shared<int64_t>(0);
  Velocity velocity() const {
    return [w = w, b = b, largest = largest, calls = calls](const torch::Tensor& x,
                                                            const torch::Tensor& t) {
      *largest = std::max(*largest, x.size(0));
      ++*calls;
      return torch::tanh(x.matmul(w.t()) + b) * (1 + t.unsqueeze(1)) + x.pow(3) / 3.0;
    };
  }
};

// Ten rows at four a pass: three passes of at most four rows (4, 3, 3), each
// row's velocity and divergence as in one pass over the batch, for both
// estimators (Hutchinson with the same probes).
TEST(RowsPerPass, GivesTheWholeBatchesResultsInPassesOfAtMostThatManyRows) {
  auto gen = make_generator(21);
  RecordingField field{torch::randn({3, 3}, gen, kF64), torch::randn({3}, gen, kF64)};
  const auto x = torch::randn({10, 3}, gen, kF64);
  const auto t = torch::rand({10}, gen, kF64);
  for (const auto& estimator : {std::string("exact"), std::string("hutchinson")}) {
    DivergenceOptions whole;
    whole.estimator = estimator;
    whole.n_probes = 2;
    const auto probes = draw_probes(x, whole, gen);
    const auto expected = divergence(field.velocity(), x, t, whole, probes);
    EXPECT_EQ(*field.largest, 10);

    DivergenceOptions passes = whole;
    passes.rows_per_pass = 4;
    *field.largest = 0, *field.calls = 0;
    const auto div = divergence(field.velocity(), x, t, passes, probes);
    EXPECT_EQ(*field.largest, 4) << estimator;
    EXPECT_EQ(*field.calls, 3) << estimator;
    EXPECT_FALSE(div.requires_grad());
    // Tolerance: float64 rounding of the same per-row sums.
    EXPECT_LT((div - expected).abs().max().item<double>(), 1e-12) << estimator;
  }
}

// Differentiated results need the whole graph: rows_per_pass does not apply.
TEST(RowsPerPass, CreateGraphTakesTheWholeBatchAtOnce) {
  auto gen = make_generator(22);
  RecordingField field{torch::randn({3, 3}, gen, kF64), torch::randn({3}, gen, kF64)};
  const auto x = torch::randn({10, 3}, gen, kF64);
  DivergenceOptions options;
  options.rows_per_pass = 4;
  auto div = divergence(field.velocity(), x, times_like(x, 0.5), options, {},
                        /*create_graph=*/true);
  EXPECT_EQ(*field.largest, 10);
}

TEST(RowsPerPass, TimesOfAnotherShapeThrowInputError) {
  auto x = torch::ones({6, 3}, kF64);
  DivergenceOptions options;
  options.rows_per_pass = 4;
  EXPECT_THROW(divergence(linear(torch::eye(3, kF64)), x, torch::zeros({1}, kF64), options),
               InputError);
}

TEST(RowsPerPass, NegativeThrowsInputError) {
  auto x = torch::ones({2, 3}, kF64);
  DivergenceOptions options;
  options.rows_per_pass = -1;
  EXPECT_THROW(divergence(linear(torch::eye(3, kF64)), x, times_like(x, 0.0), options),
               InputError);
}

TEST(DrawProbes, RademacherIsPlusOrMinusOneWithTheRequestedShape) {
  auto x = torch::zeros({4, 1, 3, 3}, kF64);
  auto gen = make_generator(5);
  auto probes = draw_probes(x, hutchinson("rademacher", 2), gen);
  EXPECT_EQ(probes.sizes(), (std::vector<int64_t>{2, 4, 1, 3, 3}));
  EXPECT_TRUE(torch::equal(probes.abs(), torch::ones_like(probes)));
  // Both signs occur among 72 fair draws (fixed seed).
  EXPECT_GT(probes.sum().item<double>(), -72.0);
  EXPECT_LT(probes.sum().item<double>(), 72.0);
}

TEST(DrawProbes, SameSeedGivesSameProbesWhateverTheGlobalGeneratorDoes) {
  auto x = torch::zeros({3, 2}, kF64);
  auto first_gen = make_generator(11);
  auto first = draw_probes(x, hutchinson("gaussian", 2), first_gen);
  torch::manual_seed(999);
  torch::randn({10});  // the global stream moves; ours must not care
  auto second_gen = make_generator(11);
  auto second = draw_probes(x, hutchinson("gaussian", 2), second_gen);
  EXPECT_TRUE(torch::equal(first, second));
}

TEST(DrawProbes, UnknownProbeNameThrowsInputError) {
  auto gen = make_generator(0);
  EXPECT_THROW(draw_probes(torch::zeros({2, 2}), hutchinson("uniform", 1), gen), InputError);
  EXPECT_THROW(draw_probes(torch::zeros({2, 2}), hutchinson("gaussian", 0), gen), InputError);
}

}  // namespace
}  // namespace fm
