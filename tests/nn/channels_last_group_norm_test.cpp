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

// The backward kernel against autograd through LibTorch's GroupNorm, in
// float64, for the input, weight and bias gradients, with an uneven upstream
// gradient (so that no term of the formula cancels by symmetry).
TEST(ChannelsLastGroupNorm, GradientsEqualTorchGroupNorm) {
  auto gen = make_generator(6);
  for (const Case& c : {Case{3, 8, 5, 7, 2}, Case{2, 12, 4, 4, 12}, Case{5, 6, 9, 3, 1}}) {
    auto x =
        (4 + 3 * torch::randn({c.batch, c.channels, c.height, c.width}, gen)).to(torch::kDouble);
    auto w = (1 + torch::randn({c.channels}, gen)).to(torch::kDouble);
    auto b = torch::randn({c.channels}, gen).to(torch::kDouble);
    auto up = torch::randn({c.batch, c.channels, c.height, c.width}, gen).to(torch::kDouble);

    auto x1 = x.clone().requires_grad_(), w1 = w.clone().requires_grad_();
    auto b1 = b.clone().requires_grad_();
    auto expected =
        torch::autograd::grad({torch::group_norm(x1, c.groups, w1, b1, 1e-5)}, {x1, w1, b1}, {up});
    auto x2 = channels_last(x).requires_grad_(), w2 = w.clone().requires_grad_();
    auto b2 = b.clone().requires_grad_();
    auto got = torch::autograd::grad(
        {nn_detail::group_norm_channels_last(x2, c.groups, w2, b2, 1e-5)}, {x2, w2, b2}, {up});
    for (int i = 0; i < 3; ++i) {
      EXPECT_LT(max_abs_diff(got[i], expected[i]), 1e-10)
          << "gradient " << i << ", " << c.groups << " groups";
    }
  }
}

// Under create_graph the gradient is itself differentiable (through LibTorch's
// GroupNorm): second derivatives agree with LibTorch's.
TEST(ChannelsLastGroupNorm, GradientIsDifferentiableUnderCreateGraph) {
  auto gen = make_generator(7);
  auto x = torch::randn({2, 4, 3, 3}, gen).to(torch::kDouble);
  auto w = (1 + torch::randn({4}, gen)).to(torch::kDouble);
  auto b = torch::randn({4}, gen).to(torch::kDouble);
  auto second = [&](const torch::Tensor& input, bool own) {
    auto xi = input.clone().requires_grad_();
    auto y = own ? nn_detail::group_norm_channels_last(xi, 2, w, b, 1e-5)
                 : torch::group_norm(xi, 2, w, b, 1e-5);
    auto g = torch::autograd::grad({y.pow(3).sum()}, {xi}, {}, true, true)[0];
    return torch::autograd::grad({g.square().sum()}, {xi})[0];
  };
  EXPECT_LT(max_abs_diff(second(channels_last(x), true), second(x, false)), 1e-9);
}

TEST(ChannelsLastGroupNorm, TakesOnlyChannelsLastCpuFloatingTensors) {
  auto x = torch::randn({2, 4, 3, 3});
  EXPECT_TRUE(nn_detail::is_channels_last_cpu(channels_last(x)));
  EXPECT_FALSE(nn_detail::is_channels_last_cpu(x));  // NCHW
  EXPECT_FALSE(nn_detail::is_channels_last_cpu(channels_last(x).to(torch::kHalf)));
  EXPECT_FALSE(nn_detail::is_channels_last_cpu(torch::randn({2, 1, 3, 3})));  // both layouts
}

}  // namespace
}  // namespace fm
