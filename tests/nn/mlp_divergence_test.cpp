// The MLP's paths without autograd: the inference forward pass (grad mode off)
// and the forward-mode exact divergence of velocity_and_divergence(), both
// checked against the autograd path on the same weights.
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "fm/common/random.h"
#include "fm/nn/mlp.h"
#include "fm/nn/unet.h"
#include "support/float64_mlp.h"
#include "support/thread_count.h"

namespace fm {
namespace {

double max_abs(const torch::Tensor& a) { return a.abs().max().item<double>(); }

// div v per row by d reverse-mode passes (the reference's method).
torch::Tensor autograd_divergence(MLPImpl& mlp, const torch::Tensor& x, const torch::Tensor& t) {
  auto x_in = x.detach().requires_grad_(true);
  auto v = mlp.forward(x_in, t);
  auto div = torch::zeros({x.size(0)}, x.options());
  for (int64_t i = 0; i < x.size(1); ++i) {
    auto g = torch::autograd::grad({v.select(1, i).sum()}, {x_in}, {}, /*retain_graph=*/true)[0];
    div += g.select(1, i);
  }
  return div.detach();
}

MLPOptions options_for(const std::string& activation, const std::string& time, int64_t depth) {
  MLPOptions o;
  o.hidden = 48;
  o.depth = depth;
  o.activation = activation;
  o.time_embedding = time;
  o.time_embedding_dim = 8;
  return o;
}

// (activation, time embedding, depth)
using Case = std::tuple<std::string, std::string, int64_t>;

class MLPDivergence : public ::testing::TestWithParam<Case> {};

TEST_P(MLPDivergence, ForwardModeMatchesAutogradInFloat64) {
  const auto& [activation, time, depth] = GetParam();
  MLP mlp = test_support::float64_mlp(5, options_for(activation, time, depth), 3);
  auto gen = make_generator(4);
  auto x = torch::randn({64, 5}, gen, torch::kDouble);
  auto t = torch::rand({64}, gen, torch::kDouble);  // a different t per row
  torch::Tensor v, div;
  ASSERT_TRUE(mlp->velocity_and_divergence(x, t, &v, &div));
  // float64: rounding only, far inside 1e-10.
  EXPECT_LT(max_abs(div - autograd_divergence(*mlp, x, t)), 1e-10) << activation << " " << time;
  EXPECT_LT(max_abs(v - mlp->forward(x, t).detach()), 1e-12);
  EXPECT_FALSE(div.requires_grad());
  EXPECT_FALSE(v.requires_grad());
}

TEST_P(MLPDivergence, ForwardModeMatchesAutogradInFloat32) {
  const auto& [activation, time, depth] = GetParam();
  torch::manual_seed(5);
  MLP mlp(3, options_for(activation, time, depth));
  auto gen = make_generator(6);
  auto x = torch::randn({128, 3}, gen);
  auto t = torch::full({128}, 0.37);  // one t for the batch, as a solver calls it
  torch::Tensor v, div;
  ASSERT_TRUE(mlp->velocity_and_divergence(x, t, &v, &div));
  // Divergences are O(1); float32 rounding of two summation orders: 1e-5.
  EXPECT_LT(max_abs(div - autograd_divergence(*mlp, x, t)), 1e-5) << activation << " " << time;
  EXPECT_LT(max_abs(v - mlp->forward(x, t).detach()), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(ActivationsTimesDepths, MLPDivergence,
                         ::testing::Values(Case{"silu", "concat", 4}, Case{"relu", "concat", 3},
                                           Case{"gelu", "sinusoidal", 2}, Case{"tanh", "concat", 1},
                                           Case{"softplus", "sinusoidal", 3},
                                           Case{"silu", "concat", 0}));

// SiLU in float32 takes the one-pass kernel's value and slope: depth 1 and 2,
// both time embeddings, inputs 5 times wider so that pre-activations reach
// SiLU's flat tails.
TEST(MLPDivergence, FusedSiluSlopesMatchAutogradOnWideInputs) {
  for (const char* time : {"concat", "sinusoidal"}) {
    for (int64_t depth : {1, 2}) {
      torch::manual_seed(15);
      MLP mlp(3, options_for("silu", time, depth));
      auto gen = make_generator(16);
      auto x = torch::randn({200, 3}, gen).mul_(5);
      auto t = torch::full({200}, 0.6);
      torch::Tensor v, div;
      ASSERT_TRUE(mlp->velocity_and_divergence(x, t, &v, &div));
      EXPECT_LT(max_abs(div - autograd_divergence(*mlp, x, t)), 1e-5) << time << " depth " << depth;
      EXPECT_LT(max_abs(v - mlp->forward(x, t).detach()), 1e-5) << time << " depth " << depth;
    }
  }
}

TEST(MLPDivergence, ChunksOfDimensionsMatchAutograd) {
  // float64 with 512 hidden units: 1 MiB of tangents holds 2 input dimensions
  // of 100 rows (chunks of 2, 2 and 1 for the 5 dimensions) and less than one
  // of 2000 rows (5 chunks of one dimension).
  MLPOptions o;
  o.hidden = 512;
  o.depth = 2;
  MLP mlp = test_support::float64_mlp(5, o, 7);
  auto gen = make_generator(8);
  for (int64_t rows : {100, 2000}) {
    auto x = torch::randn({rows, 5}, gen, torch::kDouble);
    auto t = torch::rand({rows}, gen, torch::kDouble);
    torch::Tensor v, div;
    ASSERT_TRUE(mlp->velocity_and_divergence(x, t, &v, &div));
    EXPECT_LT(max_abs(div - autograd_divergence(*mlp, x, t)), 1e-10) << rows;  // rounding
    EXPECT_LT(max_abs(v - mlp->forward(x, t).detach()), 1e-12) << rows;
  }
}

TEST(MLPDivergence, SameResultWithOneOrTwoThreads) {
  torch::manual_seed(9);
  MLP mlp(3, MLPOptions{});
  auto x = torch::randn({3000, 3}, make_generator(10));
  auto t = torch::full({3000}, 0.3);
  std::vector<torch::Tensor> divs, vs;
  for (int threads : {1, 2}) {
    test_support::ThreadCount count(threads);
    torch::Tensor v, div;
    ASSERT_TRUE(mlp->velocity_and_divergence(x, t, &v, &div));
    divs.push_back(div);
    vs.push_back(v);
    torch::NoGradGuard no_grad;
    vs.push_back(mlp->forward(x, t));
  }
  // float32; the threads only split the products' work differently: 1e-5.
  EXPECT_LT(max_abs(divs[0] - divs[1]), 1e-5);
  EXPECT_LT(max_abs(vs[0] - vs[2]), 1e-5);
  EXPECT_LT(max_abs(vs[1] - vs[3]), 1e-5);
}

TEST(MLPDivergence, WorksUnderInferenceModeWithTheSameResult) {
  torch::manual_seed(9);
  MLP mlp(2, MLPOptions{});
  auto x = torch::randn({32, 2}, make_generator(10));
  auto t = torch::full({32}, 0.5);
  torch::Tensor v, div, v_inf, div_inf;
  ASSERT_TRUE(mlp->velocity_and_divergence(x, t, &v, &div));
  {
    c10::InferenceMode inference;
    ASSERT_TRUE(mlp->velocity_and_divergence(x, t, &v_inf, &div_inf));
  }
  EXPECT_TRUE(torch::equal(div, div_inf));  // the same kernels: bit for bit
  EXPECT_TRUE(torch::equal(v, v_inf));
}

TEST(MLPInference, GradModeOffMatchesTheAutogradPathForEqualAndMixedTimes) {
  for (const char* time : {"concat", "sinusoidal"}) {
    MLP mlp = test_support::float64_mlp(4, options_for("silu", time, 3), 11);
    auto gen = make_generator(12);
    auto x = torch::randn({40, 4}, gen, torch::kDouble);
    for (const auto& t :
         {torch::full({40}, 0.25, torch::kDouble), torch::rand({40}, gen, torch::kDouble)}) {
      auto expected = mlp->forward(x, t).detach();
      torch::NoGradGuard no_grad;
      // float64, only the order of the sums differs: 1e-12.
      EXPECT_LT(max_abs(mlp->forward(x, t) - expected), 1e-12) << time;
    }
  }
}

// float32, where SiLU's hidden layers take the fused bias and activation
// (add_bias_activate_), for every activation, depth 0 (a single affine layer)
// to 3, one t for all rows (its column folded into the bias) or mixed t.
TEST(MLPInference, Float32GradModeOffMatchesTheAutogradPath) {
  for (const char* activation : {"silu", "relu", "gelu", "tanh", "softplus"}) {
    for (const char* time : {"concat", "sinusoidal"}) {
      for (int64_t depth : {0, 1, 3}) {
        torch::manual_seed(13);
        MLP mlp(4, options_for(activation, time, depth));
        auto gen = make_generator(14);
        auto x = torch::randn({300, 4}, gen).mul_(3);
        for (const auto& t : {torch::full({300}, 0.75), torch::rand({300}, gen)}) {
          auto expected = mlp->forward(x, t).detach();
          torch::NoGradGuard no_grad;
          // Outputs ~0.1-1; float32 with other summation orders: 1e-5.
          EXPECT_LT(max_abs(mlp->forward(x, t) - expected), 1e-5)
              << activation << " " << time << " depth " << depth;
        }
      }
    }
  }
}

TEST(VelocityModel, NetworksWithoutAnAnalyticDivergenceReturnFalse) {
  UNet unet(std::vector<int64_t>{1, 8, 8}, UNetOptions{});
  torch::Tensor v, div;
  EXPECT_FALSE(
      unet->velocity_and_divergence(torch::zeros({1, 1, 8, 8}), torch::zeros({1}), &v, &div));
  EXPECT_FALSE(v.defined());
  EXPECT_FALSE(div.defined());
}

}  // namespace
}  // namespace fm
