// The MLP's fused bias and SiLU (fm/nn/bias_silu.h) against SiLU and its
// derivative computed in float64, and add_bias_activate_() and
// add_bias_activate_with_slope_() against LibTorch's activations.
#include "fm/nn/bias_silu.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "fm/common/random.h"
#include "fm/nn/activation.h"

namespace fm::nn_detail {
namespace {

double exact_silu(double v) { return v / (1.0 + std::exp(-v)); }

// A float32 unit in the last place at |value|.
double ulp(double value) {
  const float f = static_cast<float>(std::fabs(value));
  return std::nextafter(f, std::numeric_limits<float>::infinity()) - f;
}

// Every float32 multiple of 1/64 in [-88.25, 88] (11,281 values, each through
// the exponential's reduction at a different point), in rows of 37 columns so
// that each row ends with a part-vector, with a bias that is not zero.
TEST(AddBiasSilu, WithinThreeUlpsOfFloat64Silu) {
  const int64_t cols = 37;
  std::vector<float> bias(cols), z;
  for (int64_t j = 0; j < cols; ++j) bias[j] = 0.25f * static_cast<float>(j % 5) - 0.5f;
  std::vector<double> v;
  for (int k = -8825 * 64 / 100; k <= 88 * 64; ++k) v.push_back(k / 64.0);
  while (v.size() % cols != 0) v.push_back(0.5);
  for (size_t i = 0; i < v.size(); ++i) z.push_back(static_cast<float>(v[i] - bias[i % cols]));
  std::vector<double> sums(z.size());  // v as float32 computes it: z + bias, rounded
  for (size_t i = 0; i < z.size(); ++i) sums[i] = static_cast<float>(z[i] + bias[i % cols]);

  add_bias_silu(z.data(), static_cast<int64_t>(z.size()) / cols, cols, bias.data());
  double worst = 0;
  for (size_t i = 0; i < z.size(); ++i) {
    const double expected = exact_silu(sums[i]);
    // Down to -88.25 the value (-4e-37) is still a normal float32, with its
    // full relative precision.
    const double ulps = std::fabs(z[i] - expected) / ulp(expected);
    worst = std::max(worst, ulps);
    ASSERT_LE(ulps, 3.0) << "v = " << sums[i] << ": " << z[i] << " against " << expected;
  }
  EXPECT_GT(worst, 0.0);  // the comparison is not vacuous
}

TEST(AddBiasSilu, TailsNaNAndInfinity) {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> z = {-88.5f, -100.0f, -1e30f, 88.5f,         100.0f,
                          1e30f,  inf,     -inf,   std::nanf(""), 0.0f};
  const float bias = 0.0f;
  add_bias_silu(z.data(), static_cast<int64_t>(z.size()), 1, &bias);
  for (int i = 0; i < 3; ++i) {  // exact values under 3.7e-37 in magnitude
    EXPECT_EQ(z[i], 0.0f) << i;
    EXPECT_TRUE(std::signbit(z[i])) << i;
  }
  EXPECT_EQ(z[3], 88.5f);  // v (1 - e^-v) is v to float precision
  EXPECT_EQ(z[4], 100.0f);
  EXPECT_EQ(z[5], 1e30f);
  EXPECT_EQ(z[6], inf);
  // -inf / (1 + inf), as LibTorch's silu gives.
  EXPECT_TRUE(std::isnan(z[7]));
  EXPECT_TRUE(std::isnan(z[8]));
  EXPECT_EQ(z[9], 0.0f);
}

// SiLU's derivative at v, d/dv v sigmoid(v), in float64.
double exact_silu_slope(double v) {
  const double s = 1.0 / (1.0 + std::exp(-v));
  return s * (1.0 + v * (1.0 - s));
}

// The same sweep as above, value and slope. The slope's 1 - s loses bits to
// cancellation for v from a few units to ~17, by LibTorch's formula as in
// its silu_backward, which is off by up to 9.7e-7 on these values too; 2e-6
// leaves room for the copies with and without fused multiply-adds.
TEST(AddBiasSiluWithSlope, WithinFourUlpsAndTwoE6OfFloat64) {
  const int64_t cols = 29;
  std::vector<float> bias(cols), z;
  for (int64_t j = 0; j < cols; ++j) bias[j] = 0.5f - 0.125f * static_cast<float>(j % 9);
  std::vector<double> v;
  for (int k = -8825 * 64 / 100; k <= 88 * 64; ++k) v.push_back(k / 64.0);
  while (v.size() % cols != 0) v.push_back(-0.5);
  for (size_t i = 0; i < v.size(); ++i) z.push_back(static_cast<float>(v[i] - bias[i % cols]));
  std::vector<double> sums(z.size());
  for (size_t i = 0; i < z.size(); ++i) sums[i] = static_cast<float>(z[i] + bias[i % cols]);
  std::vector<float> slope(z.size(), std::nanf(""));

  add_bias_silu_with_slope(z.data(), slope.data(), static_cast<int64_t>(z.size()) / cols, cols,
                           bias.data());
  double worst_value = 0, worst_slope = 0;
  for (size_t i = 0; i < z.size(); ++i) {
    const double value = exact_silu(sums[i]), derivative = exact_silu_slope(sums[i]);
    const double ulps = std::fabs(z[i] - value) / ulp(value);
    const double slope_error = std::fabs(slope[i] - derivative);
    worst_value = std::max(worst_value, ulps);
    worst_slope = std::max(worst_slope, slope_error);
    ASSERT_LE(ulps, 4.0) << "v = " << sums[i] << ": " << z[i] << " against " << value;
    ASSERT_LE(slope_error, 2e-6) << "v = " << sums[i] << ": " << slope[i] << " against "
                                 << derivative;
  }
  EXPECT_GT(worst_value, 0.0);
  EXPECT_GT(worst_slope, 0.0);
}

TEST(AddBiasSiluWithSlope, TailsNaNAndInfinity) {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> z = {-88.5f, -1e30f, 88.5f, 1e30f, -inf, std::nanf(""), 0.0f, inf};
  std::vector<float> slope(z.size());
  const float bias = 0.0f;
  add_bias_silu_with_slope(z.data(), slope.data(), static_cast<int64_t>(z.size()), 1, &bias);
  for (int i = 0; i < 2; ++i) {  // exact value and slope under 3.7e-37 in magnitude
    EXPECT_EQ(z[i], 0.0f) << i;
    EXPECT_EQ(slope[i], 0.0f) << i;
  }
  EXPECT_EQ(z[2], 88.5f);
  EXPECT_EQ(slope[2], 1.0f);
  EXPECT_EQ(z[3], 1e30f);
  EXPECT_EQ(slope[3], 1.0f);
  EXPECT_TRUE(std::isnan(z[4]));      // -inf 0, as LibTorch's silu
  EXPECT_TRUE(std::isnan(slope[4]));  // 0 (1 - inf), as LibTorch's silu_backward
  EXPECT_TRUE(std::isnan(z[5]));
  EXPECT_TRUE(std::isnan(slope[5]));
  EXPECT_EQ(z[6], 0.0f);
  EXPECT_EQ(slope[6], 0.5f);
  EXPECT_EQ(z[7], inf);
  EXPECT_TRUE(std::isnan(slope[7]));  // 1 (1 + inf 0), as LibTorch's silu_backward
}

// For every activation, float32 and float64, contiguous or not: act(z + b),
// LibTorch's, within float32 rounding (the fused SiLU) or exactly.
TEST(AddBiasActivate, EqualsLibTorchOnTheSum) {
  auto gen = make_generator(3);
  for (const std::string name : {"silu", "relu", "gelu", "tanh", "softplus"}) {
    for (auto dtype : {torch::kFloat, torch::kDouble}) {
      for (bool contiguous : {true, false}) {
        auto z = torch::randn({70, 33}, gen, dtype).mul_(6);
        auto bias = torch::randn({33}, gen, dtype);
        if (!contiguous) z = z.t().contiguous().t();
        const auto expected = activate(z + bias, name);
        const auto result = add_bias_activate_(z.clone(), bias, name);
        const double tolerance = dtype == torch::kFloat ? 4e-7 : 0.0;
        EXPECT_TRUE(torch::allclose(result, expected, tolerance, tolerance))
            << name << " " << dtype << " contiguous " << contiguous << ": "
            << (result - expected).abs().max().item<double>();
      }
    }
  }
}

// The fused kernel is what runs for a contiguous float32 CPU z, bias
// contiguous or not: bit for bit the kernel's own result (LibTorch's silu
// differs in the last bit on some of these 2,400 values).
TEST(AddBiasActivate, TakesTheFusedKernelForFloat32) {
  auto gen = make_generator(5);
  auto z = torch::randn({60, 40}, gen).mul_(4);
  const auto spaced = torch::randn({80}, gen);
  for (const auto& bias : {spaced.slice(0, 0, 80, 2), spaced.slice(0, 0, 40).contiguous()}) {
    auto expected = z.clone();
    const auto b = bias.contiguous();
    add_bias_silu(expected.data_ptr<float>(), 60, 40, b.data_ptr<float>());
    EXPECT_TRUE(torch::equal(add_bias_activate_(z.clone(), bias, "silu"), expected))
        << "bias contiguous " << bias.is_contiguous();
    EXPECT_FALSE(torch::equal(torch::silu(z + bias), expected));
  }
}

// Value and slope of act(z + b) against LibTorch's activation and its
// backward kernel, for every activation, dtype and layout, bias or none.
TEST(AddBiasActivateWithSlope, EqualsLibTorchOnTheSum) {
  auto gen = make_generator(6);
  for (const std::string name : {"silu", "relu", "gelu", "tanh", "softplus"}) {
    for (auto dtype : {torch::kFloat, torch::kDouble}) {
      for (bool contiguous : {true, false}) {
        for (bool with_bias : {true, false}) {
          auto z = torch::randn({70, 33}, gen, dtype).mul_(6);
          if (!contiguous) z = z.t().contiguous().t();
          const auto bias = with_bias ? torch::randn({33}, gen, dtype) : torch::Tensor();
          const auto sum = with_bias ? z + bias : z.clone();
          const auto expected_value = activate(sum, name);
          const auto expected_slope =
              activation_backward(torch::ones_like(sum), sum, expected_value, name);
          const auto result = add_bias_activate_with_slope_(z.clone(), bias, name);
          const double tolerance = dtype == torch::kFloat ? 4e-7 : 0.0;
          const std::string label = name + " " + std::string(c10::toString(dtype)) +
                                    " contiguous " + std::to_string(contiguous) + " bias " +
                                    std::to_string(with_bias);
          EXPECT_TRUE(torch::allclose(result.value, expected_value, tolerance, tolerance))
              << label << ": " << (result.value - expected_value).abs().max().item<double>();
          EXPECT_TRUE(torch::allclose(result.slope, expected_slope, tolerance, tolerance))
              << label << ": " << (result.slope - expected_slope).abs().max().item<double>();
        }
      }
    }
  }
}

TEST(AddBiasActivateWithSlope, TakesTheFusedKernelForFloat32) {
  auto gen = make_generator(7);
  auto z = torch::randn({60, 40}, gen).mul_(4);
  const auto bias = torch::randn({40}, gen);
  auto value = z.clone(), slope = torch::empty_like(z);
  add_bias_silu_with_slope(value.data_ptr<float>(), slope.data_ptr<float>(), 60, 40,
                           bias.data_ptr<float>());
  const auto result = add_bias_activate_with_slope_(z.clone(), bias, "silu");
  EXPECT_TRUE(torch::equal(result.value, value));
  EXPECT_TRUE(torch::equal(result.slope, slope));
  EXPECT_FALSE(torch::equal(torch::silu_backward(torch::ones_like(z), z + bias), slope));
}

TEST(AddBiasActivate, WorksInPlaceAndWithoutBias) {
  auto gen = make_generator(4);
  auto z = torch::randn({5, 40}, gen);
  auto bias = torch::randn({40}, gen);
  const auto expected = torch::silu(z + bias);
  auto in_place = z.clone();
  const auto result = add_bias_activate_(in_place, bias, "silu");
  EXPECT_EQ(result.data_ptr(), in_place.data_ptr());
  EXPECT_TRUE(torch::allclose(in_place, expected, 4e-7, 4e-7));
  EXPECT_TRUE(torch::equal(add_bias_activate_(z.clone(), torch::Tensor(), "relu"), torch::relu(z)));
}

}  // namespace
}  // namespace fm::nn_detail
