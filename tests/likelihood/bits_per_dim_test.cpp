// Known-answer case L4 (shared/cases/known-answers.md) for fm::bits_per_dim with
// the dequantisation and transforms of data/image_transform.h. Float64 unless a
// test says otherwise; each tolerance is stated beside its check.
#include "fm/likelihood/bits_per_dim.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "fm/common/error.h"
#include "fm/common/random.h"
#include "fm/data/image_transform.h"
#include "fm/likelihood/likelihood.h"

namespace fm {
namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);

ImageTransformOptions logit(double alpha) { return {"logit", alpha}; }
ImageTransformOptions affine() { return {"affine", 0.0}; }

// Bits/dim of an identity flow with a standard normal base on B = 2 copies of a
// constant image with `dims` pixels.
torch::Tensor identity_flow_bpd(double pixel, double u, int64_t dims,
                                const ImageTransformOptions& transform,
                                torch::Dtype dtype = torch::kFloat64) {
  auto pixels = torch::full({2, dims}, pixel, torch::TensorOptions().dtype(dtype));
  auto batch = dequantize(pixels, torch::full_like(pixels, u), transform);
  return bits_per_dim(standard_normal_log_prob(batch.x), batch.log_det_dx_dy, dims).bits_per_dim;
}

TEST(BitsPerDim, IdentityFlowAtMidGreyGivesKnownValueForAnyD) {
  for (int64_t dims : {1, 3, 784}) {
    auto bpd = identity_flow_bpd(128, 0.0, dims, logit(1e-6));
    // 6 given decimals. Dropping -log 256 gives -0.674249, nats 5.077824, /255 7.320104.
    EXPECT_TRUE(torch::allclose(bpd, torch::full({2}, 7.325751, kF64), 0.0, 1e-6))
        << "D=" << dims << " bpd=" << bpd;
  }
}

TEST(BitsPerDim, IdentityFlowAtMidGreyWithLargeAlphaGivesKnownValue) {
  auto bpd = identity_flow_bpd(128, 0.0, 5, logit(0.05));
  EXPECT_TRUE(torch::allclose(bpd, torch::full({2}, 7.477751, kF64), 0.0, 1e-6)) << bpd;
}

TEST(BitsPerDim, IdentityFlowAtBlackWithHalfNoiseGivesKnownValue) {
  auto bpd = identity_flow_bpd(0, 0.5, 5, logit(1e-6));
  EXPECT_TRUE(torch::allclose(bpd, torch::full({2}, 28.373937, kF64), 0.0, 1e-6)) << bpd;
}

TEST(BitsPerDim, Float32InputAgreesWithinSinglePrecision) {
  auto bpd = identity_flow_bpd(128, 0.0, 784, logit(1e-6), torch::kFloat32);
  // float32 with 784 terms summed: about 1e-5 relative (known-answers).
  EXPECT_NEAR(bpd[0].item<double>(), 7.325751, 7.325751 * 1e-5);
}

TEST(BitsPerDim, UniformDensityOnMinusOneToOneIsExactlyEightBits) {
  // p_model = 2^-D on [-1, 1]^D and the affine map's log det = D log 2: 8 bits/dim.
  const int64_t dims = 784;
  auto pixels = torch::randint(0, 256, {3, dims}, make_generator(1), kF64);
  auto batch = dequantize(pixels, torch::full_like(pixels, 0.25), affine());
  auto log_p_model = torch::full({3}, -static_cast<double>(dims) * std::log(2.0), kF64);
  auto result = bits_per_dim(log_p_model, batch.log_det_dx_dy, dims);
  EXPECT_TRUE(torch::allclose(result.bits_per_dim, torch::full({3}, 8.0, kF64), 0.0, 1e-12));
  // The named terms: NLL_model = D log 2, NLL_pixel = D log 256 (rounding only).
  EXPECT_NEAR(result.nll_model_nats[0].item<double>(), dims * std::log(2.0), 1e-9);
  EXPECT_NEAR(result.nll_pixel_nats[0].item<double>(), dims * std::log(256.0), 1e-9);
}

TEST(BitsPerDim, MismatchedShapesOrZeroDimsThrowInputError) {
  auto one = torch::zeros({2}, kF64);
  EXPECT_THROW(bits_per_dim(one, torch::zeros({3}, kF64), 4), InputError);
  EXPECT_THROW(bits_per_dim(one, one, 0), InputError);
}

// --- Dequantisation and transforms -------------------------------------------

TEST(Dequantize, AffineMapsPixelRangeOntoMinusOneToOne) {
  auto pixels = torch::tensor({{0, 255}}, torch::kUInt8);
  auto noise = torch::tensor({{0.0, 0.5}}, kF64);
  auto batch = dequantize(pixels, noise, affine());
  // 2 * 0 - 1 and 2 * 255.5 / 256 - 1: exact binary fractions.
  EXPECT_TRUE(torch::equal(batch.x, torch::tensor({{-1.0, 255.0 / 256.0}}, kF64))) << batch.x;
  EXPECT_NEAR(batch.log_det_dx_dy.item<double>(), 2 * std::log(2.0), 1e-15);
}

TEST(Dequantize, LogitLogDetMatchesAutogradDerivative) {
  auto pixels = torch::tensor({{0.0, 17.0, 128.0, 255.0}}, kF64);
  auto noise = torch::tensor({{0.1, 0.9, 0.0, 0.999}}, kF64);
  auto y = ((pixels + noise) / 256.0).requires_grad_(true);
  auto batch = dequantize(pixels, noise, logit(0.05));

  // The transform is elementwise, so log|det| = sum of log dx_i/dy_i; recompute
  // x from y with autograd attached and compare (rounding only: 1e-12).
  auto s = 0.05 + 0.9 * y;
  auto x = torch::log(s) - torch::log(1 - s);
  auto dx_dy = torch::autograd::grad({x.sum()}, {y})[0];
  EXPECT_TRUE(torch::allclose(batch.x, x.detach(), 0.0, 1e-12));
  EXPECT_NEAR(batch.log_det_dx_dy.item<double>(), dx_dy.log().sum().item<double>(), 1e-12);
}

TEST(Dequantize, ModelToUnitIntervalInvertsTheTransformWithoutNoise) {
  auto pixels = torch::tensor({{0.0, 1.0, 100.0, 254.0, 255.0}}, kF64);
  auto noise = torch::tensor({{0.0, 0.3, 0.5, 0.7, 0.99}}, kF64);
  for (const auto& transform : {affine(), logit(1e-6), logit(0.05)}) {
    auto x = dequantize(pixels, noise, transform).x;
    // Round trip back to y = (pixel + u) / 256; tolerance 1e-9 (logit at alpha = 1e-6
    // near y = 0 loses about 6 digits to cancellation).
    EXPECT_TRUE(
        torch::allclose(model_to_unit_interval(x, transform), (pixels + noise) / 256.0, 0.0, 1e-9))
        << transform.kind << " alpha=" << transform.alpha;
  }
}

TEST(Dequantize, OutOfRangeValuesAndBadOptionsThrowInputError) {
  auto noise = torch::zeros({1, 2}, kF64);
  EXPECT_THROW(dequantize(torch::tensor({{0.0, 256.0}}, kF64), noise, affine()), InputError);
  EXPECT_THROW(dequantize(torch::tensor({{-1.0, 3.0}}, kF64), noise, affine()), InputError);
  EXPECT_THROW(dequantize(torch::zeros({1, 2}, kF64), torch::ones({1, 2}, kF64), affine()),
               InputError);
  EXPECT_THROW(dequantize(torch::zeros({1, 2}, kF64), noise, {"sigmoid", 0.0}), InputError);
  EXPECT_THROW(dequantize(torch::zeros({1, 2}, kF64), noise, logit(0.5)), InputError);
  EXPECT_THROW(dequantize(torch::zeros({1, 2}, kF64), torch::zeros({1, 3}, kF64), affine()),
               InputError);
}

}  // namespace
}  // namespace fm
