#include "fm/data/standardizer.h"

#include <gtest/gtest.h>

#include "fm/common/error.h"
#include "fm/common/random.h"
#include "io/temp_dir.h"

namespace fm {
namespace {

using fm::testing::error_message;

torch::Tensor table() {
  return torch::tensor({1.0, 10.0, 2.0, 20.0, 3.0, 30.0, 4.0, 40.0}, torch::kFloat64).view({4, 2});
}

// Population std (ddof 0): column 0 has mean 2.5 and variance 1.25. Tolerance
// 1e-15: a few float64 roundings.
TEST(Standardizer, FitUsesMeanAndPopulationStd) {
  const Standardizer s = Standardizer::fit(table(), "t");
  EXPECT_NEAR(s.mean()[0].item<double>(), 2.5, 1e-15);
  EXPECT_NEAR(s.mean()[1].item<double>(), 25.0, 1e-15);
  EXPECT_NEAR(s.std()[0].item<double>(), std::sqrt(1.25), 1e-15);
  EXPECT_NEAR(s.std()[1].item<double>(), std::sqrt(125.0), 1e-13);
}

// sum_j log std_j = log sqrt(1.25) + log sqrt(125) = log(156.25) / 2 = 2.5257286443.
TEST(Standardizer, SumLogStdIsTheLogDeterminantOfTheScaling) {
  EXPECT_NEAR(Standardizer::fit(table(), "t").sum_log_std(), 2.5257286443082556, 1e-14);
  EXPECT_EQ(Standardizer().sum_log_std(), 0.0);
}

// Round trip to 1e-12 in float64; the transformed training data has mean 0 and
// population std 1 to 1e-12.
TEST(Standardizer, TransformThenInverseIsTheIdentity) {
  at::Generator g = make_generator(1);
  const torch::Tensor x = torch::randn({200, 3}, g, torch::kFloat64) * 5 + 3;
  const Standardizer s = Standardizer::fit(x, "x");
  const torch::Tensor z = s.transform(x);
  EXPECT_TRUE(torch::allclose(z.mean(0), torch::zeros({3}, torch::kFloat64), 0, 1e-12));
  const torch::Tensor population_std = (z - z.mean(0)).square().mean(0).sqrt();
  EXPECT_TRUE(torch::allclose(population_std, torch::ones({3}, torch::kFloat64), 0, 1e-12));
  EXPECT_TRUE(torch::allclose(s.inverse(z), x, 0, 1e-12));
  EXPECT_EQ(s.transform(x.to(torch::kFloat32)).scalar_type(), torch::kFloat32);
}

TEST(Standardizer, IdentityReturnsItsInputUnchanged) {
  const torch::Tensor x = table();
  EXPECT_TRUE(Standardizer().is_identity());
  EXPECT_TRUE(torch::equal(Standardizer().transform(x), x));
  EXPECT_TRUE(torch::equal(Standardizer().inverse(x), x));
}

TEST(Standardizer, ConstantColumnIsRefusedNamingItsIndex) {
  torch::Tensor x = table();
  x.select(1, 1).fill_(0.1);  // 0.1 is inexact in binary: the mean may be off by an ulp
  const std::string msg = error_message<InputError>([&] { Standardizer::fit(x, "data.train"); });
  EXPECT_NE(msg.find("data.train column 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("constant"), std::string::npos) << msg;
}

TEST(Standardizer, TransformRefusesWrongColumnCount) {
  const Standardizer s = Standardizer::fit(table(), "t");
  const std::string msg = error_message<InputError>([&] { s.transform(torch::zeros({3, 5})); });
  EXPECT_NE(msg.find("(N, 2)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[3, 5]"), std::string::npos) << msg;
}

// Exact: JSON numbers round-trip float64 bit for bit.
TEST(Standardizer, JsonRoundTripIsExact) {
  at::Generator g = make_generator(2);
  const Standardizer s = Standardizer::fit(torch::randn({50, 4}, g, torch::kFloat64), "x");
  const Standardizer back = Standardizer::from_json(nlohmann::json::parse(s.to_json().dump()));
  EXPECT_TRUE(torch::equal(back.mean(), s.mean()));
  EXPECT_TRUE(torch::equal(back.std(), s.std()));
  EXPECT_TRUE(Standardizer::from_json(Standardizer().to_json()).is_identity());
  EXPECT_THROW(Standardizer::from_json({{"mean", {1.0}}, {"std", {0.0}}}), InputError);
  EXPECT_THROW(Standardizer::from_json({{"mean", "x"}, {"std", {1.0}}}), InputError);
}

}  // namespace
}  // namespace fm
