#include "fm/nn/mlp.h"

#include <gtest/gtest.h>

#include "fm/common/error.h"
#include "fm/common/random.h"
#include "nn/golden.h"

namespace fm {
namespace {

// Sum over the MLP's layers of (fan_in + 1) * fan_out.
int64_t mlp_count(int64_t d, int64_t time_features, int64_t hidden, int64_t depth) {
  int64_t n = 0, fan_in = d + time_features;
  for (int64_t i = 0; i < depth; ++i, fan_in = hidden) n += (fan_in + 1) * hidden;
  return n + (fan_in + 1) * d;
}

TEST(MLP, ParameterCountMatchesReferenceForToy2d) {
  MLP mlp(2, MLPOptions{});  // defaults: 4 x 256, t concat
  EXPECT_EQ(mlp->parameter_count(), 198914);
}

TEST(MLP, ParameterCountMatchesReferenceForTabular8) {
  MLPOptions o;
  o.hidden = 512;
  o.depth = 3;
  EXPECT_EQ(MLP(8, o)->parameter_count(), 534536);
}

TEST(MLP, SinusoidalTimeEmbeddingAddsItsFeaturesToTheFirstLayer) {
  MLPOptions o;
  o.hidden = 64;
  o.depth = 2;
  o.time_embedding = "sinusoidal";
  o.time_embedding_dim = 16;
  MLP mlp(3, o);
  EXPECT_EQ(mlp->parameter_count(), mlp_count(3, 16, 64, 2));
  auto gen = make_generator(1);
  auto v = mlp->forward(torch::randn({5, 3}, gen), torch::rand({5}, gen));
  EXPECT_EQ(v.sizes(), (std::vector<int64_t>{5, 3}));
}

TEST(MLP, DescribeNamesShapeActivationTimeAndCount) {
  EXPECT_EQ(MLP(2, MLPOptions{})->describe(), "mlp 4x256 silu, t concat, 198,914 parameters");
}

TEST(MLP, ForwardRejectsWrongShapesNamingThem) {
  MLP mlp(2, MLPOptions{});
  auto t = torch::zeros({4});
  EXPECT_THROW(mlp->forward(torch::zeros({4, 3}), t), InputError);
  EXPECT_THROW(mlp->forward(torch::zeros({4, 2}), torch::zeros({3})), InputError);
  try {
    mlp->forward(torch::zeros({4, 1, 2}), t);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("(4, 1, 2)"), std::string::npos) << e.what();
  }
}

// The reference MLP's parameters, loaded by name, give the reference output.
// float32: 1e-6 absolute (outputs are ~0.1; the same kernels run on both sides).
// float64: 1e-12 absolute (only summation order may differ).
TEST(MLP, OutputEqualsReferenceForTheSameWeights) {
  auto golden = test::load_golden("mlp");
  MLP mlp(2, MLPOptions{});
  ASSERT_EQ(test::load_recipe_parameters(*mlp, golden.json.at("parameters")), "");
  torch::NoGradGuard no_grad;
  EXPECT_LT(test::max_abs_diff(mlp->forward(golden.x, golden.t), golden.output_float32), 1e-6);
  mlp->to(torch::kDouble);
  auto v = mlp->forward(golden.x.to(torch::kDouble), golden.t.to(torch::kDouble));
  EXPECT_LT(test::max_abs_diff(v, golden.output_float64), 1e-12);
}

// Same seed, same initial weights as cfm_ref.py (construction order = init order).
// NOTE: module init draws from LibTorch's global generator, so this test seeds it.
TEST(MLP, SeededInitialisationEqualsReference) {
  auto golden = test::load_golden("mlp");
  torch::manual_seed(0);
  MLP mlp(2, MLPOptions{});
  auto params = mlp->named_parameters();
  for (const auto& r : golden.json.at("seed0_init")) {
    const auto& p = params[r.at("name").get<std::string>()];
    // Sums over up to 65,536 float32 values, in float64: 1e-9 absolute.
    EXPECT_NEAR(p.to(torch::kDouble).sum().item<double>(), r.at("sum").get<double>(), 1e-9)
        << r.at("name");
    auto head = r.at("head").get<std::vector<double>>();
    for (size_t i = 0; i < head.size(); ++i) {
      EXPECT_EQ(p.reshape(-1)[i].item<float>(), static_cast<float>(head[i])) << r.at("name");
    }
  }
}

TEST(MLP, GradientReachesEveryParameter) {
  for (const char* activation : {"silu", "relu", "gelu", "tanh", "softplus"}) {
    MLPOptions o;
    o.hidden = 32;
    o.depth = 3;
    o.activation = activation;
    o.time_embedding = "sinusoidal";
    MLP mlp(4, o);
    auto gen = make_generator(2);
    auto v = mlp->forward(torch::randn({16, 4}, gen), torch::rand({16}, gen));
    v.square().mean().backward();
    for (const auto& p : mlp->named_parameters()) {
      ASSERT_TRUE(p.value().grad().defined()) << activation << " " << p.key();
      // A gradient of exactly zero everywhere would mean the layer is cut off.
      EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << activation << " " << p.key();
    }
  }
}

}  // namespace
}  // namespace fm
