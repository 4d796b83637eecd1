#include "fm/nn/winograd_conv.h"

#include <gtest/gtest.h>

#include "fm/common/random.h"

namespace fm {
namespace {

using nn_detail::winograd_conv3x3;

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

// Largest difference relative to the largest magnitude of the expected values.
double relative_error(const torch::Tensor& actual, const torch::Tensor& expected) {
  return max_abs_diff(actual, expected) / expected.abs().max().item<double>();
}

torch::nn::Conv2d make_conv(int64_t in, int64_t out, int64_t stride = 1) {
  torch::manual_seed(7);
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1));
}

// The Winograd kernels run where the build has them and the CPU has AVX-512;
// elsewhere there is nothing to compare and the tests say so.
bool kernels_here() {
  return nn_detail::winograd_conv_built() && __builtin_cpu_supports("avx512f");
}

#define REQUIRE_KERNELS()                                                        \
  if (!kernels_here()) GTEST_SKIP() << "no Winograd kernels in this build/CPU"

// A build with the kernels, on an AVX-512 CPU, must use them for the U-Net's
// shapes: a setup without oneDNN's headers would otherwise pass silently.
TEST(WinogradConv, AppliesToTheUNetShapesWhereBuilt) {
  REQUIRE_KERNELS();
  for (auto [in, out, size] : {std::tuple{32, 32, 28}, {96, 32, 28}, {64, 64, 14}, {128, 64, 7}}) {
    auto x = torch::zeros({4, in, size, size});
    EXPECT_TRUE(nn_detail::winograd_conv_applies(x, torch::zeros({out, in, 3, 3})))
        << in << "->" << out << " at " << size;
  }
}

TEST(WinogradConv, DoesNotApplyToOtherTypesDevicesOrKernels) {
  auto x = torch::zeros({2, 16, 8, 8});
  EXPECT_FALSE(nn_detail::winograd_conv_applies(x.to(torch::kDouble),
                                                torch::zeros({16, 16, 3, 3}, torch::kDouble)));
  EXPECT_FALSE(nn_detail::winograd_conv_applies(x, torch::zeros({16, 16, 1, 1})));
  EXPECT_FALSE(nn_detail::winograd_conv_applies(x, torch::zeros({16, 8, 3, 3})));
  nn_detail::set_winograd_conv_enabled(false);
  EXPECT_FALSE(nn_detail::winograd_conv_applies(x, torch::zeros({16, 16, 3, 3})));
  nn_detail::set_winograd_conv_enabled(true);
}

// Forward values against LibTorch's convolution of the same tensors, for
// channels-last and NCHW inputs, with and without a bias, non-square images
// and sizes that are not multiples of Winograd's 4x4 tiles. Winograd's
// transforms round differently from a direct sum: float32 results agree to
// 1e-5 of the output's largest magnitude (measured: below 2e-6).
TEST(WinogradConv, ForwardEqualsTorchConv2d) {
  REQUIRE_KERNELS();
  auto gen = make_generator(11);
  torch::NoGradGuard no_grad;
  for (auto [batch, in, out, h, w] :
       {std::tuple{3, 16, 32, 9, 13}, {2, 64, 64, 28, 28}, {1, 32, 16, 7, 7}}) {
    auto x = torch::randn({batch, in, h, w}, gen);
    auto weight = 0.1 * torch::randn({out, in, 3, 3}, gen);
    auto bias = torch::randn({out}, gen);
    for (bool cl : {true, false}) {
      auto input = cl ? x.contiguous(torch::MemoryFormat::ChannelsLast) : x;
      for (bool with_bias : {true, false}) {
        auto b = with_bias ? bias : torch::Tensor();
        auto expected = torch::conv2d(x, weight, b, 1, 1);
        auto y = winograd_conv3x3(input, weight, b);
        EXPECT_EQ(y.sizes(), expected.sizes());
        EXPECT_EQ(y.is_contiguous(torch::MemoryFormat::ChannelsLast), cl);
        EXPECT_LT(relative_error(y, expected), 1e-5)
            << in << "->" << out << " " << h << "x" << w << (cl ? " channels-last" : " NCHW")
            << (with_bias ? " bias" : "");
      }
    }
  }
}

// Input, weight and bias gradients against LibTorch's autograd, for a loss
// that weights every output differently.
TEST(WinogradConv, GradientsEqualTorchAutograd) {
  REQUIRE_KERNELS();
  auto gen = make_generator(12);
  auto x = torch::randn({4, 32, 14, 10}, gen).contiguous(torch::MemoryFormat::ChannelsLast);
  auto weight = (0.1 * torch::randn({48, 32, 3, 3}, gen)).requires_grad_();
  auto bias = torch::randn({48}, gen).requires_grad_();
  auto probe = torch::randn({4, 48, 14, 10}, gen);
  auto xg = x.clone().requires_grad_();

  auto expected = torch::autograd::grad({(torch::conv2d(xg, weight, bias, 1, 1) * probe).sum()},
                                        {xg, weight, bias});
  auto actual = torch::autograd::grad({(winograd_conv3x3(xg, weight, bias) * probe).sum()},
                                      {xg, weight, bias});
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_LT(relative_error(actual[i], expected[i]), 1e-5) << "gradient " << i;
  }
  // Asked for the input's gradient alone (as the Hutchinson estimator asks).
  auto only_x =
      torch::autograd::grad({(winograd_conv3x3(xg, weight, bias) * probe).sum()}, {xg});
  EXPECT_LT(relative_error(only_x[0], expected[0]), 1e-5);
  // An input that needs no gradient: the parameters' gradients alone.
  auto params =
      torch::autograd::grad({(winograd_conv3x3(x, weight, bias) * probe).sum()}, {weight, bias});
  EXPECT_LT(relative_error(params[0], expected[1]), 1e-5);
  EXPECT_LT(relative_error(params[1], expected[2]), 1e-5);
}

// Under create_graph the backward pass is LibTorch's differentiable one:
// a gradient of a gradient agrees with LibTorch's.
TEST(WinogradConv, SecondDerivativesEqualTorch) {
  REQUIRE_KERNELS();
  auto gen = make_generator(13);
  auto x = torch::randn({2, 16, 8, 8}, gen).requires_grad_();
  auto weight = (0.1 * torch::randn({16, 16, 3, 3}, gen)).requires_grad_();
  auto bias = torch::randn({16}, gen).requires_grad_();
  auto second = [&](auto conv) {
    auto gx = torch::autograd::grad({conv(x, weight, bias).square().sum()}, {x}, {},
                                    /*retain_graph=*/true, /*create_graph=*/true)[0];
    return torch::autograd::grad({gx.square().sum()}, {weight})[0];
  };
  auto expected = second([](auto& a, auto& w, auto& b) { return torch::conv2d(a, w, b, 1, 1); });
  auto actual = second([](auto& a, auto& w, auto& b) { return winograd_conv3x3(a, w, b); });
  EXPECT_LT(relative_error(actual, expected), 1e-5);
}

TEST(WinogradConv, RunsUnderInferenceMode) {
  REQUIRE_KERNELS();
  auto gen = make_generator(14);
  auto x = torch::randn({2, 32, 12, 12}, gen);
  auto weight = 0.1 * torch::randn({32, 32, 3, 3}, gen);
  auto expected = torch::conv2d(x, weight, {}, 1, 1);
  c10::InferenceMode inference;
  EXPECT_LT(relative_error(winograd_conv3x3(x, weight, {}), expected), 1e-5);
}

// Without a bias, under autograd too: the input and weight gradients are
// LibTorch's, and there is no bias gradient to ask for.
TEST(WinogradConv, RunsWithoutABiasUnderAutograd) {
  REQUIRE_KERNELS();
  auto gen = make_generator(16);
  auto x = torch::randn({2, 16, 10, 10}, gen).requires_grad_();
  auto weight = (0.1 * torch::randn({32, 16, 3, 3}, gen)).requires_grad_();
  auto probe = torch::randn({2, 32, 10, 10}, gen);
  auto expected = torch::autograd::grad({(torch::conv2d(x, weight, {}, 1, 1) * probe).sum()},
                                        {x, weight});
  auto actual =
      torch::autograd::grad({(winograd_conv3x3(x, weight, {}) * probe).sum()}, {x, weight});
  EXPECT_LT(relative_error(actual[0], expected[0]), 1e-5);
  EXPECT_LT(relative_error(actual[1], expected[1]), 1e-5);
  auto unbiased = torch::nn::Conv2d(torch::nn::Conv2dOptions(16, 32, 3).padding(1).bias(false));
  auto v = nn_detail::conv2d(*unbiased, x);
  EXPECT_LT(relative_error(v, unbiased->forward(x)), 1e-5);
}

// A bias of the wrong length or type is an error, as in torch::conv2d, not
// a read past its end.
TEST(WinogradConv, RejectsABiasThatDoesNotFit) {
  REQUIRE_KERNELS();
  auto x = torch::zeros({1, 16, 6, 6});
  auto weight = torch::zeros({16, 16, 3, 3});
  EXPECT_THROW(winograd_conv3x3(x, weight, torch::zeros({4})), c10::Error);
  EXPECT_THROW(winograd_conv3x3(x, weight, torch::zeros({16}, torch::kDouble)), c10::Error);
}

// conv2d() takes the Winograd kernels only where they compute the same
// convolution; a stride-2 or unpadded convolution, a float64 one or a
// switched-off process give LibTorch's result bit for bit.
TEST(WinogradConv, Conv2dFallsBackToTheModuleElsewhere) {
  auto gen = make_generator(15);
  torch::NoGradGuard no_grad;
  auto x = torch::randn({2, 16, 8, 8}, gen);
  auto strided = make_conv(16, 16, /*stride=*/2);
  EXPECT_TRUE(torch::equal(nn_detail::conv2d(*strided, x), strided->forward(x)));
  auto unpadded = torch::nn::Conv2d(torch::nn::Conv2dOptions(16, 16, 3));
  auto y = nn_detail::conv2d(*unpadded, x);
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 16, 6, 6}));
  EXPECT_TRUE(torch::equal(y, unpadded->forward(x)));
  auto same = make_conv(16, 16);
  nn_detail::set_winograd_conv_enabled(false);
  EXPECT_TRUE(torch::equal(nn_detail::conv2d(*same, x), same->forward(x)));
  nn_detail::set_winograd_conv_enabled(true);
  EXPECT_LT(relative_error(nn_detail::conv2d(*same, x), same->forward(x)), 1e-5);
  same->to(torch::kDouble);
  auto x64 = x.to(torch::kDouble);
  EXPECT_TRUE(torch::equal(nn_detail::conv2d(*same, x64), same->forward(x64)));
}

}  // namespace
}  // namespace fm
