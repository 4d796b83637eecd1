#include "fm/nn/channels_last_group_norm.h"

#include <gtest/gtest.h>

#include "fm/common/random.h"

namespace fm {
namespace {

torch::Tensor channels_last(const torch::Tensor& x) {
  return x.contiguous(torch::MemoryFormat::ChannelsLast);
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

struct Case {
  int64_t batch, channels, height, width, groups;
};

// Against LibTorch's GroupNorm on the same values, for several group sizes,
// non-square images and affine parameters far from (1, 0). The offset of 50
// makes a one-pass E[x^2] - E[x]^2 in float lose digits; the two-pass double
// statistics must not.
TEST(ChannelsLastGroupNorm, EqualsTorchGroupNorm) {
  torch::NoGradGuard no_grad;
  auto gen = make_generator(5);
  for (const Case& c :
       {Case{3, 8, 5, 7, 2}, Case{2, 12, 4, 4, 12}, Case{1, 6, 9, 3, 1}, Case{4, 32, 14, 14, 8}}) {
    for (auto dtype : {torch::kFloat, torch::kDouble}) {
      auto x = (50 + 3 * torch::randn({c.batch, c.channels, c.height, c.width}, gen)).to(dtype);
      auto w = (1 + torch::randn({c.channels}, gen)).to(dtype);
      auto b = torch::randn({c.channels}, gen).to(dtype);
      const auto expected = torch::group_norm(x, c.groups, w, b, 1e-5);
      auto y = nn_detail::group_norm_channels_last(channels_last(x), c.groups, w, b, 1e-5);
      EXPECT_TRUE(y.is_contiguous(torch::MemoryFormat::ChannelsLast));
      EXPECT_LT(max_abs_diff(y, expected), dtype == torch::kFloat ? 2e-5 : 1e-12)
          << c.channels << " channels, " << c.groups << " groups, " << dtype;
    }
  }
}

TEST(ChannelsLastGroupNorm, ServesOnlyChannelsLastWithoutGradMode) {
  auto x = torch::randn({2, 4, 3, 3});
  {
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(nn_detail::serves_channels_last(channels_last(x)));
    EXPECT_FALSE(nn_detail::serves_channels_last(x));  // NCHW
    EXPECT_FALSE(nn_detail::serves_channels_last(channels_last(x).to(torch::kHalf)));
    EXPECT_FALSE(nn_detail::serves_channels_last(torch::randn({2, 1, 3, 3})));  // both layouts
  }
  EXPECT_FALSE(nn_detail::serves_channels_last(channels_last(x)));  // grad mode: no backward
}

}  // namespace
}  // namespace fm
