// The MLP's hand-written backpropagation (MLPImpl::regression_gradient)
// against autograd on the same loss (issue #5).
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <tuple>

#include "fm/common/error.h"
#include "fm/common/random.h"
#include "fm/nn/mlp.h"
#include "support/float64_mlp.h"

namespace fm {
namespace {

struct Case {
  std::string activation, time_embedding;
  int64_t depth;
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.activation << ", t " << c.time_embedding << ", depth " << c.depth;
}

std::string case_name(const testing::TestParamInfo<Case>& info) {
  return info.param.activation + "_" + info.param.time_embedding + "_depth" +
         std::to_string(info.param.depth);
}

class MLPGradient : public testing::TestWithParam<Case> {};

// Autograd's gradient of scale * sum((v - u)^2), parameter by parameter.
std::tuple<double, std::vector<torch::Tensor>> autograd_gradient(MLP& mlp, const torch::Tensor& x,
                                                                 const torch::Tensor& t,
                                                                 const torch::Tensor& u,
                                                                 double scale) {
  auto loss = (mlp->forward(x, t) - u).square().sum() * scale;
  return {loss.item<double>(), torch::autograd::grad({loss}, mlp->parameters())};
}

// float64: any difference beyond the order of additions shows.
TEST_P(MLPGradient, EqualsAutogradInFloat64) {
  const auto& c = GetParam();
  MLPOptions o;
  o.hidden = 16;
  o.depth = c.depth;
  o.activation = c.activation;
  o.time_embedding = c.time_embedding;
  o.time_embedding_dim = 6;
  auto mlp = test_support::float64_mlp(3, o, 5);
  auto g = make_generator(2);
  // Wide inputs, so that the activations' tails are reached too: softplus
  // switches to the identity above 20, GELU and SiLU flatten out below -5.
  const auto x = 25 * torch::randn({37, 3}, g, torch::kFloat64);
  const auto t = torch::rand({37}, g, torch::kFloat64);
  const auto u = torch::randn({37, 3}, g, torch::kFloat64);
  if (c.time_embedding == "concat" && c.depth > 0) {
    const auto params = mlp->parameters();
    const auto z = torch::addmm(params[1], torch::cat({x, t.unsqueeze(1)}, 1), params[0].t());
    ASSERT_TRUE((z > 20).any().item<bool>());
    ASSERT_TRUE((z < -5).any().item<bool>());
  }
  const double scale = 0.37;
  const auto [expected_loss, expected] = autograd_gradient(mlp, x, t, u, scale);

  std::vector<torch::Tensor> grads;
  torch::Tensor loss;
  ASSERT_TRUE(mlp->regression_gradient(x, t, u, scale, &grads, &loss));
  EXPECT_FALSE(loss.requires_grad());
  EXPECT_NEAR(loss.item<double>(), expected_loss, 1e-12 * expected_loss);
  const auto params = mlp->parameters();
  ASSERT_EQ(grads.size(), params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    ASSERT_EQ(grads[i].sizes(), params[i].sizes()) << i;
    EXPECT_FALSE(grads[i].requires_grad()) << i;
    const double size = expected[i].abs().max().item<double>();
    EXPECT_LE((grads[i] - expected[i]).abs().max().item<double>(), 1e-12 * (1 + size)) << i;
  }
}

INSTANTIATE_TEST_SUITE_P(ActivationsAndTimeEmbeddings, MLPGradient,
                         testing::Values(Case{"silu", "concat", 3}, Case{"relu", "concat", 2},
                                         Case{"gelu", "concat", 2}, Case{"tanh", "concat", 2},
                                         Case{"softplus", "concat", 2},
                                         Case{"silu", "sinusoidal", 2},
                                         Case{"tanh", "sinusoidal", 1}, Case{"silu", "concat", 0}),
                         case_name);

// The bench's float32 toy2d network, with its oneDNN products: to 1e-5 of
// each gradient's largest entry.
TEST(MLPGradientFloat32, EqualsAutogradToFloat32Rounding) {
  torch::manual_seed(0);
  MLP mlp(2, MLPOptions{});  // 4 x 256 silu, t concat
  auto g = make_generator(3);
  const auto x = torch::randn({128, 2}, g), t = torch::rand({128}, g),
             u = torch::randn({128, 2}, g);
  const double scale = 1.0 / 256;
  const auto [expected_loss, expected] = autograd_gradient(mlp, x, t, u, scale);
  std::vector<torch::Tensor> grads;
  torch::Tensor loss;
  ASSERT_TRUE(mlp->regression_gradient(x, t, u, scale, &grads, &loss));
  EXPECT_NEAR(loss.item<double>(), expected_loss, 1e-5 * expected_loss);
  ASSERT_EQ(grads.size(), expected.size());
  for (size_t i = 0; i < grads.size(); ++i) {
    const double size = expected[i].abs().max().item<double>();
    EXPECT_LE((grads[i] - expected[i]).abs().max().item<double>(), 1e-5 * size) << i;
  }
}

// SiLU in float32 takes the one-pass kernel's slopes (takes_fused_silu): a
// network of depth 1 and 2 with both time embeddings, on inputs 5 times wider
// than the data, so pre-activations reach SiLU's flat tails.
TEST(MLPGradientFloat32, SiluSlopesFromTheFusedKernelEqualAutograd) {
  for (const char* time : {"concat", "sinusoidal"}) {
    for (int64_t depth : {1, 2}) {
      MLPOptions o;
      o.hidden = 64;
      o.depth = depth;
      o.time_embedding = time;
      o.time_embedding_dim = 8;
      ASSERT_EQ(o.activation, "silu");
      torch::manual_seed(4);
      MLP mlp(3, o);
      auto g = make_generator(5);
      const auto x = torch::randn({200, 3}, g).mul_(5), t = torch::rand({200}, g);
      const auto u = torch::randn({200, 3}, g);
      const auto [expected_loss, expected] = autograd_gradient(mlp, x, t, u, 1.0 / 600);
      std::vector<torch::Tensor> grads;
      torch::Tensor loss;
      ASSERT_TRUE(mlp->regression_gradient(x, t, u, 1.0 / 600, &grads, &loss));
      EXPECT_NEAR(loss.item<double>(), expected_loss, 1e-5 * expected_loss);
      ASSERT_EQ(grads.size(), expected.size());
      for (size_t i = 0; i < grads.size(); ++i) {
        const double size = expected[i].abs().max().item<double>();
        EXPECT_LE((grads[i] - expected[i]).abs().max().item<double>(), 1e-5 * size)
            << time << " depth " << depth << " gradient " << i;
      }
    }
  }
}

TEST(MLPGradientFloat32, RejectsATargetOfAnotherShape) {
  MLPOptions o;
  o.hidden = 8;
  o.depth = 1;
  MLP mlp(3, o);
  std::vector<torch::Tensor> grads;
  torch::Tensor loss;
  try {
    mlp->regression_gradient(torch::zeros({4, 3}), torch::zeros({4}), torch::zeros({4, 1}), 1.0,
                             &grads, &loss);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("target u (4, 1)"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(grads.empty());
}

}  // namespace
}  // namespace fm
