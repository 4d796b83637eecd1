#include <gtest/gtest.h>

#include "fm/common/error.h"
#include "fm/common/random.h"
#include "fm/paths/path.h"

namespace fm {
namespace {

PathOptions of_type(const std::string& type) {
  PathOptions o;
  o.type = type;
  return o;
}

// Sum over rows of the squared Euclidean distance between paired rows.
double pairing_cost(const torch::Tensor& x_0, const torch::Tensor& x_1) {
  return (x_0 - x_1).to(torch::kDouble).square().sum().item<double>();
}

// Rows of `a` in lexicographic order, to compare row multisets.
torch::Tensor sorted_rows(const torch::Tensor& a) {
  auto flat = a.reshape({a.size(0), -1});
  std::vector<int64_t> order(flat.size(0));
  std::iota(order.begin(), order.end(), 0);
  auto rows = flat.to(torch::kDouble).contiguous();
  const auto* p = rows.data_ptr<double>();
  const int64_t d = rows.size(1);
  std::sort(order.begin(), order.end(), [&](int64_t i, int64_t j) {
    return std::lexicographical_compare(p + i * d, p + i * d + d, p + j * d, p + j * d + d);
  });
  return flat.index_select(0, torch::tensor(order, torch::kLong));
}

TEST(Couple, KeepsPairsForCondOTAndIcfm) {
  auto gen = make_generator(0);
  auto x_0 = torch::randn({6, 2}, gen), x_1 = torch::randn({6, 2}, gen);
  EXPECT_TRUE(torch::equal(couple(of_type("condot"), x_0, x_1), x_0));
  EXPECT_TRUE(torch::equal(couple(of_type("icfm"), x_0, x_1), x_0));
}

// Greedy nearest-neighbour pairing takes 1 <-> 0 (cost 1) and then -10 <-> 3
// (cost 169): 170 in all. The optimum pairs 1 <-> 3 and -10 <-> 0: 104.
TEST(Couple, OtcfmBeatsGreedyNearestNeighbour) {
  auto x_0 = torch::tensor({0.0f, 3.0f}).reshape({2, 1});
  auto x_1 = torch::tensor({1.0f, -10.0f}).reshape({2, 1});
  auto paired = couple(of_type("otcfm"), x_0, x_1);
  EXPECT_TRUE(torch::equal(paired, torch::tensor({3.0f, 0.0f}).reshape({2, 1}))) << paired;
  EXPECT_EQ(pairing_cost(paired, x_1), 104.0);
}

// x_1 is a shuffled copy of x_0 plus tiny noise: the optimal pairing undoes
// the shuffle exactly.
TEST(Couple, OtcfmRecoversHiddenPermutation) {
  auto gen = make_generator(1);
  auto x_0 = torch::randn({64, 4}, gen);
  auto perm = torch::randperm(64, gen, torch::kLong);
  auto x_1 = x_0.index_select(0, perm) + 1e-3 * torch::randn({64, 4}, gen);
  EXPECT_TRUE(torch::equal(couple(of_type("otcfm"), x_0, x_1), x_0.index_select(0, perm)));
}

// Image-shaped batches: rows are flattened, every x_0 is used exactly once,
// and no other pairing (identity or 200 random permutations) is cheaper.
TEST(Couple, OtcfmIsPermutationNoWorseThanAnyOtherPairing) {
  auto gen = make_generator(2);
  auto x_0 = torch::randn({32, 1, 3, 3}, gen), x_1 = torch::randn({32, 1, 3, 3}, gen) + 0.5;
  auto paired = couple(of_type("otcfm"), x_0, x_1);
  ASSERT_EQ(paired.sizes(), x_0.sizes());
  EXPECT_TRUE(torch::equal(sorted_rows(paired), sorted_rows(x_0)));
  const double best = pairing_cost(paired, x_1);
  EXPECT_LE(best, pairing_cost(x_0, x_1));
  for (int trial = 0; trial < 200; ++trial) {
    auto other = x_0.index_select(0, torch::randperm(32, gen, torch::kLong));
    // Costs are float sums of ~300 terms: allow 1e-9 relative for rounding.
    EXPECT_LE(best, pairing_cost(other, x_1) * (1 + 1e-9));
  }
}

TEST(Couple, OtcfmOfSingleRowIsThatRow) {
  auto x_0 = torch::tensor({{2.0f, -1.0f}});
  EXPECT_TRUE(torch::equal(couple(of_type("otcfm"), x_0, torch::zeros({1, 2})), x_0));
}

TEST(Couple, RejectsBatchSizeMismatchAndNonFiniteData) {
  EXPECT_THROW(couple(of_type("otcfm"), torch::zeros({3, 2}), torch::zeros({4, 2})), InputError);
  auto bad = torch::zeros({3, 2});
  bad[1][0] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(couple(of_type("otcfm"), bad, torch::zeros({3, 2})), InputError);
}

}  // namespace
}  // namespace fm
