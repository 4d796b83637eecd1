#include "fm/paths/path.h"

#include <gtest/gtest.h>

#include "fm/common/error.h"
#include "fm/common/random.h"

namespace fm {
namespace {

PathOptions condot(double sigma_min) {
  PathOptions o;
  o.type = "condot";
  o.sigma_min = sigma_min;
  return o;
}

PathOptions icfm(double sigma, const std::string& type = "icfm") {
  PathOptions o;
  o.type = type;
  o.sigma = sigma;
  return o;
}

// T1: at sigma_min = 0 the CondOT target is exactly x_1 - x_0 = (1, 2) for
// every t, t = 1 included, and the loss stays finite (no division by 1 - t).
TEST(SamplePath, CondOTTargetIsExactAtEveryTimeWhenSigmaMinIsZero) {
  auto gen = make_generator(0);
  auto x_0 = torch::zeros({4, 2});
  auto x_1 = torch::tensor({1.0f, 2.0f}).repeat({4, 1});
  auto t = torch::tensor({0.0f, 0.5f, 1.0f - 1e-7f, 1.0f});
  auto s = sample_path(condot(0.0), x_0, x_1, t, gen);
  EXPECT_TRUE(torch::equal(s.u_t, x_1)) << s.u_t;
  EXPECT_TRUE(torch::isfinite(s.x_t).all().item<bool>());
  auto loss = flow_matching_loss(s.x_t, s.u_t);
  EXPECT_TRUE(std::isfinite(loss.item<double>()));
}

// T2: mean over all elements: ((1 + 1) + (9 + 9)) / 4 = 5 exactly (not 10,
// the per-example sum, and not 1 or 2 from a single sample).
TEST(FlowMatchingLoss, MeansOverBatchAndDimensions) {
  auto gen = make_generator(0);
  auto x_1 = torch::tensor({1.0f, 1.0f, 3.0f, 3.0f}).reshape({2, 2});
  auto s = sample_path(condot(0.0), torch::zeros({2, 2}), x_1, torch::tensor({0.3f, 0.8f}), gen);
  EXPECT_EQ(flow_matching_loss(torch::zeros({2, 2}), s.u_t).item<float>(), 5.0f);
}

TEST(FlowMatchingLoss, MeansOverEveryNonBatchDimension) {
  // A constant difference of 2 gives 4 whatever the shape.
  auto v = torch::full({3, 1, 4, 5}, 2.0);
  EXPECT_EQ(flow_matching_loss(v, torch::zeros({3, 1, 4, 5})).item<double>(), 4.0);
}

TEST(FlowMatchingLoss, RejectsShapeMismatch) {
  EXPECT_THROW(flow_matching_loss(torch::zeros({3, 2}), torch::zeros({3, 1})), InputError);
}

TEST(SamplePath, CondOTHitsEndpointsWhenSigmaMinIsZero) {
  auto gen = make_generator(1);
  auto x_0 = torch::randn({8, 3}, gen), x_1 = torch::randn({8, 3}, gen);
  auto at_0 = sample_path(condot(0.0), x_0, x_1, torch::zeros({8}), gen);
  auto at_1 = sample_path(condot(0.0), x_0, x_1, torch::ones({8}), gen);
  EXPECT_TRUE(torch::equal(at_0.x_t, x_0));
  EXPECT_TRUE(torch::equal(at_1.x_t, x_1));
}

// x_1 = x_1 + sigma_min x_0 at t = 1: the conditional path ends in a small
// Gaussian around the data. float32, values ~1: 1e-6 absolute.
TEST(SamplePath, CondOTEndsAtSigmaMinNoiseAroundData) {
  auto gen = make_generator(2);
  auto x_0 = torch::randn({8, 3}, gen), x_1 = torch::randn({8, 3}, gen);
  auto s = sample_path(condot(0.1), x_0, x_1, torch::ones({8}), gen);
  EXPECT_TRUE(torch::allclose(s.x_t, x_1 + 0.1 * x_0, 0.0, 1e-6));
  auto s0 = sample_path(condot(0.1), x_0, x_1, torch::zeros({8}), gen);
  EXPECT_TRUE(torch::equal(s0.x_t, x_0));
}

// u_t is d x_t / dt: forward differences with h = 1e-6 in float64 agree to
// 1e-6 (the paths are affine in t, so only rounding, ~1e-10, remains). For
// icfm/otcfm both calls use equal generators, hence the same noise.
TEST(SamplePath, TargetIsTimeDerivativeOfPathForEveryType) {
  const double h = 1e-6;
  for (const auto& options :
       {condot(1e-4), condot(0.0), icfm(0.0), icfm(0.3), icfm(0.3, "otcfm")}) {
    auto gen = make_generator(3);
    auto x_0 = torch::randn({6, 2, 3}, gen, torch::kDouble);
    auto x_1 = torch::randn({6, 2, 3}, gen, torch::kDouble);
    auto t = torch::rand({6}, gen, torch::kDouble) * (1.0 - h);
    auto gen_a = make_generator(4), gen_b = make_generator(4);
    auto a = sample_path(options, x_0, x_1, t, gen_a);
    auto b = sample_path(options, x_0, x_1, t + h, gen_b);
    EXPECT_TRUE(torch::allclose((b.x_t - a.x_t) / h, a.u_t, 0.0, 1e-6)) << options.type;
  }
}

// With x_0 = x_1 = 0 the icfm point is sigma eps: 40,000 draws have mean 0
// (standard error 0.0025, tolerance 0.01) and standard deviation sigma = 0.5
// (standard error 0.0018, tolerance 0.01); the target is exactly 0.
TEST(SamplePath, IcfmNoiseHasMeanZeroAndStdSigma) {
  auto gen = make_generator(5);
  auto zeros = torch::zeros({20000, 2});
  auto s = sample_path(icfm(0.5), zeros, zeros, torch::rand({20000}, gen), gen);
  EXPECT_NEAR(s.x_t.mean().item<double>(), 0.0, 0.01);
  EXPECT_NEAR(s.x_t.std().item<double>(), 0.5, 0.01);
  EXPECT_TRUE(torch::equal(s.u_t, zeros));
}

TEST(SamplePath, DrawsNoNoiseWhenSigmaIsZero) {
  auto used = make_generator(6), fresh = make_generator(6);
  auto x_0 = torch::zeros({4, 2}), x_1 = torch::ones({4, 2});
  sample_path(icfm(0.0), x_0, x_1, torch::full({4}, 0.5), used);
  EXPECT_TRUE(torch::equal(torch::rand({3}, used), torch::rand({3}, fresh)));
}

TEST(SamplePath, IcfmIsStraightLineWithoutNoise) {
  auto gen = make_generator(7);
  auto x_0 = torch::randn({5, 2}, gen), x_1 = torch::randn({5, 2}, gen);
  auto t = torch::rand({5}, gen);
  auto s = sample_path(icfm(0.0), x_0, x_1, t, gen);
  auto t_b = t.unsqueeze(1);
  // float32 on values ~1: 1e-6 absolute.
  EXPECT_TRUE(torch::allclose(s.x_t, (1 - t_b) * x_0 + t_b * x_1, 0.0, 1e-6));
  EXPECT_TRUE(torch::equal(s.u_t, x_1 - x_0));
}

// Each example gets its own t, broadcast over its channels and pixels.
TEST(SamplePath, BroadcastsTimeOverImageDimensions) {
  auto gen = make_generator(8);
  auto x_0 = torch::zeros({3, 1, 2, 2}), x_1 = torch::ones({3, 1, 2, 2});
  auto t = torch::tensor({0.0, 0.25, 1.0}, torch::kDouble);
  auto s = sample_path(condot(0.0), x_0, x_1, t, gen);
  EXPECT_EQ(s.x_t.dtype(), torch::kFloat);
  for (int64_t b = 0; b < 3; ++b) {
    EXPECT_TRUE(torch::equal(s.x_t[b], torch::full({1, 2, 2}, t[b].item<float>()))) << b;
  }
}

TEST(SamplePath, RejectsBadShapesAndOptions) {
  auto gen = make_generator(9);
  auto x = torch::zeros({4, 2});
  EXPECT_THROW(sample_path(condot(0.0), x, torch::zeros({3, 2}), torch::zeros({4}), gen),
               InputError);
  EXPECT_THROW(sample_path(condot(0.0), x, x, torch::zeros({4, 1}), gen), InputError);
  EXPECT_THROW(sample_path(condot(0.0), x, x, torch::zeros({3}), gen), InputError);
  EXPECT_THROW(sample_path(condot(1.0), x, x, torch::zeros({4}), gen), InputError);
  EXPECT_THROW(sample_path(icfm(-0.1), x, x, torch::zeros({4}), gen), InputError);
  EXPECT_THROW(sample_path(icfm(0.1, "rectified"), x, x, torch::zeros({4}), gen), InputError);
}

}  // namespace
}  // namespace fm
