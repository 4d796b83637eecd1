#include "fm/data/toy2d.h"

#include <gtest/gtest.h>

#include "fm/common/error.h"
#include "fm/common/random.h"
#include "io/temp_dir.h"

namespace fm {
namespace {

using fm::testing::error_message;

// Moments of each density from 2,000,000 points drawn with FFJORD's formulas in
// numpy (tests/data/toy_moments.py): mean x, mean y, std x, std y, mean
// radius; the tolerances are 5 standard errors at the 20,000 points drawn here.
struct Moments {
  std::string name;
  std::vector<double> value;
  std::vector<double> tolerance;
};

const std::vector<Moments> kReference = {
    {"moons", {-0.0012, 0.0004, 1.7446, 1.0078, 1.8594}, {0.0617, 0.0356, 0.0328, 0.0161, 0.0274}},
    {"8gaussians",
     {0.0036, 0.0012, 2.0323, 2.0303, 2.8511},
     {0.0719, 0.0718, 0.0276, 0.0276, 0.0125}},
    {"checkerboard",
     {-0.0018, -0.0023, 2.3100, 2.3098, 3.0618},
     {0.0817, 0.0817, 0.0365, 0.0365, 0.0403}},
    {"circles",
     {-0.0001, 0.0003, 1.6938, 1.6940, 2.2641},
     {0.0599, 0.0599, 0.0311, 0.0311, 0.0277}},
    {"pinwheel",
     {-0.0008, -0.0006, 1.4827, 1.4833, 2.0112},
     {0.0524, 0.0524, 0.0257, 0.0258, 0.0210}},
    {"2spirals",
     {0.0000, 0.0000, 1.6115, 1.5836, 2.1221},
     {0.0570, 0.0560, 0.0307, 0.0277, 0.0274}},
    {"swissroll",
     {0.4011, 0.0432, 1.3391, 1.4039, 1.8961},
     {0.0473, 0.0496, 0.0242, 0.0249, 0.0204}},
    {"rings", {0.0000, -0.0000, 1.4547, 1.4546, 1.8773}, {0.0514, 0.0514, 0.0300, 0.0300, 0.0297}},
    {"gaussian-shift",
     {1.9995, -0.0003, 1.0006, 0.9995, 2.2718},
     {0.0354, 0.0353, 0.0250, 0.0250, 0.0324}},
};

class Toy2dDensity : public ::testing::TestWithParam<Moments> {};

TEST_P(Toy2dDensity, MomentsMatchFfjordFormulas) {
  const Moments& ref = GetParam();
  at::Generator g = make_generator(1);
  const torch::Tensor x = sample_toy2d(ref.name, 20000, g).to(torch::kFloat64);
  const torch::Tensor mean = x.mean(0);
  const torch::Tensor std = (x - mean).square().mean(0).sqrt();
  const std::vector<double> got = {mean[0].item<double>(), mean[1].item<double>(),
                                   std[0].item<double>(), std[1].item<double>(),
                                   x.norm(2, 1).mean().item<double>()};
  const char* what[] = {"mean x", "mean y", "std x", "std y", "mean radius"};
  for (size_t k = 0; k < got.size(); ++k) {
    EXPECT_NEAR(got[k], ref.value[k], ref.tolerance[k]) << ref.name << " " << what[k];
  }
}

TEST_P(Toy2dDensity, GivesExactlyNFloat32RowsForAnyN) {
  at::Generator g = make_generator(2);
  for (int64_t n : {0, 1, 7, 13}) {
    const torch::Tensor x = sample_toy2d(GetParam().name, n, g);
    EXPECT_EQ(x.sizes(), (std::vector<int64_t>{n, 2})) << GetParam().name;
    EXPECT_EQ(x.scalar_type(), torch::kFloat32);
    EXPECT_TRUE(torch::isfinite(x).all().item<bool>());
  }
}

// Exact: the draws depend only on the generator's seed.
TEST_P(Toy2dDensity, SameSeedGivesSameDrawsAndAnotherSeedDiffers) {
  at::Generator a = make_generator(3), b = make_generator(3), c = make_generator(4);
  const torch::Tensor xa = sample_toy2d(GetParam().name, 64, a);
  EXPECT_TRUE(torch::equal(xa, sample_toy2d(GetParam().name, 64, b)));
  EXPECT_FALSE(torch::equal(xa, sample_toy2d(GetParam().name, 64, c)));
}

// LibTorch's global generator must be untouched: its next draw after
// manual_seed(0) is the same whether or not a toy sample was drawn in between.
TEST_P(Toy2dDensity, LeavesTheGlobalGeneratorAlone) {
  torch::manual_seed(0);
  const torch::Tensor expected = torch::rand({4});
  torch::manual_seed(0);
  at::Generator g = make_generator(5);
  sample_toy2d(GetParam().name, 100, g);
  EXPECT_TRUE(torch::equal(torch::rand({4}), expected));
}

INSTANTIATE_TEST_SUITE_P(EachDensity, Toy2dDensity, ::testing::ValuesIn(kReference),
                         [](const auto& info) {
                           std::string name = info.param.name;
                           for (char& ch : name) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return name;
                         });

// sample_moons of bench/cfm_ref.py after torch.manual_seed(2024), n = 40, run
// with Debian's python3-torch; rows 0, 1, 19 (outer moon) and 20, 38, 39
// (inner). Same draws in the same order; 1e-6 allows an ulp of sin/cos between
// SIMD code paths.
TEST(Toy2d, MoonsReproduceTheReferenceBenchmarkDraws) {
  at::Generator g = make_generator(2024);
  const torch::Tensor x = sample_toy2d("moons", 40, g);
  const std::vector<std::pair<int64_t, std::array<float, 2>>> rows = {
      {0, {-1.19283199f, 1.37144744f}},    {1, {-2.82860374f, 0.615502357f}},
      {19, {-1.89678311f, 1.51972079f}},   {20, {2.77869439f, -0.220527947f}},
      {38, {-0.177502632f, -1.55113387f}}, {39, {1.3107636f, -1.34795785f}}};
  for (const auto& [i, v] : rows) {
    EXPECT_NEAR(x[i][0].item<float>(), v[0], 1e-6) << "row " << i;
    EXPECT_NEAR(x[i][1].item<float>(), v[1], 1e-6) << "row " << i;
  }
}

// Exact: x1 in [-2, 2), x2 on the squares FFJORD picks, then scaled by 2, so
// floor(x / 2) + floor(y / 2) is always even.
TEST(Toy2d, CheckerboardPointsLieOnlyOnEvenSquares) {
  at::Generator g = make_generator(6);
  const torch::Tensor x = sample_toy2d("checkerboard", 5000, g).to(torch::kFloat64);
  const torch::Tensor cell = torch::floor(x / 2).sum(1);
  EXPECT_TRUE((torch::remainder(cell, 2) == 0).all().item<bool>());
  EXPECT_TRUE((x.abs() <= 4).all().item<bool>());
}

// Each point belongs to its nearest centre 4 (cos k pi/4, sin k pi/4) / 1.414;
// the cluster means sit on those centres (std 0.354 / sqrt(~2500) = 0.007 per
// cluster; tolerance 0.04) and each cluster holds 1/8 of the points (+- 0.02).
TEST(Toy2d, EightGaussiansClusterOnFfjordsCentres) {
  at::Generator g = make_generator(7);
  const torch::Tensor x = sample_toy2d("8gaussians", 20000, g).to(torch::kFloat64);
  const torch::Tensor angle = torch::arange(8, torch::kFloat64) * (M_PI / 4);
  const torch::Tensor centres =
      torch::stack({torch::cos(angle), torch::sin(angle)}, 1) * (4 / 1.414);
  const torch::Tensor nearest = torch::cdist(x, centres).argmin(1);
  for (int64_t k = 0; k < 8; ++k) {
    const torch::Tensor members = x.index({nearest == k});
    EXPECT_NEAR(members.size(0) / 20000.0, 0.125, 0.02) << k;
    EXPECT_TRUE(torch::allclose(members.mean(0), centres[k], 0, 0.04)) << k << members.mean(0);
  }
}

// Four rings of radius 3, 2.25, 1.5, 0.75 with noise 0.08: every radius lies
// within 0.375 (4.7 sigma) of one of them, a quarter of the points per ring.
TEST(Toy2d, RingsHaveFourRadii) {
  at::Generator g = make_generator(8);
  const torch::Tensor r = sample_toy2d("rings", 4000, g).to(torch::kFloat64).norm(2, 1);
  const torch::Tensor ring = torch::round(r / 0.75);
  EXPECT_TRUE(((r - ring * 0.75).abs() < 0.375).all().item<bool>());
  for (int64_t k = 1; k <= 4; ++k) EXPECT_EQ((ring == k).sum().item<int64_t>(), 1000) << k;
}

TEST(Toy2d, GaussianShiftCentresOnTheShift) {
  at::Generator g = make_generator(9);
  const torch::Tensor x = sample_toy2d("gaussian-shift", 20000, g, -3.5).to(torch::kFloat64);
  // 5 standard errors of a mean of 20,000 unit normals: 0.035.
  EXPECT_NEAR(x.mean(0)[0].item<double>(), -3.5, 0.035);
  EXPECT_NEAR(x.mean(0)[1].item<double>(), 0.0, 0.035);
}

TEST(Toy2d, UnknownNameListsTheValidOnes) {
  at::Generator g = make_generator(0);
  const std::string msg = error_message<InputError>([&] { sample_toy2d("moon", 4, g); });
  EXPECT_NE(msg.find("'moon'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("moons, 8gaussians"), std::string::npos) << msg;
  EXPECT_EQ(toy2d_names().size(), 9u);
}

}  // namespace
}  // namespace fm
