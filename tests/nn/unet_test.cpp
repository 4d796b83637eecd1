#include "fm/nn/unet.h"

#include <gtest/gtest.h>

#include "fm/common/error.h"
#include "fm/common/random.h"
#include "nn/golden.h"

namespace fm {
namespace {

const std::vector<int64_t> kMnist = {1, 28, 28};

// Parameter counts of the documented building blocks.
int64_t conv(int64_t cin, int64_t cout, int64_t k) { return cin * cout * k * k + cout; }
int64_t res(int64_t cin, int64_t cout, int64_t time_hidden) {
  return 2 * cin + conv(cin, cout, 3) + (time_hidden + 1) * cout + 2 * cout + conv(cout, cout, 3) +
         (cin != cout ? conv(cin, cout, 1) : 0);
}
int64_t attention(int64_t c) { return 2 * c + conv(c, 3 * c, 1) + conv(c, c, 1); }

// A small configuration with two levels, two res blocks per level and
// attention at the lower level (and so in the middle).
UNetOptions small_options() {
  UNetOptions o;
  o.channels = 16;
  o.channel_mult = {1, 2};
  o.num_res_blocks = 2;
  o.attention_resolutions = {8};
  o.num_heads = 2;
  o.groups = 4;
  o.time_embedding_dim = 16;
  o.time_hidden = 32;
  return o;
}

TEST(UNet, ParameterCountMatchesReferenceWithDefaults) {
  UNet unet(kMnist, UNetOptions{});
  EXPECT_EQ(unet->parameter_count(), 776929);
  EXPECT_EQ(unet->describe(), "unet 32x[1, 2, 2], 1 res/level, 776,929 parameters");
}

// fm-eval's rows per autograd pass: 256 MiB over ~178 bytes for each of the
// 40,768 level activations of a default 28x28 image (36), fewer for wider or
// deeper networks, attention or larger images, never 0.
TEST(UNet, DivergenceRowsPerPassFollowTheActivations) {
  EXPECT_EQ(UNet(kMnist, UNetOptions{})->divergence_rows_per_pass(), 36);
  UNetOptions wide;
  wide.channels = 64;
  EXPECT_EQ(UNet(kMnist, wide)->divergence_rows_per_pass(), 18);
  UNetOptions deep;
  deep.num_res_blocks = 2;
  EXPECT_EQ(UNet(kMnist, deep)->divergence_rows_per_pass(), 18);
  // Attention at 14x14 (level 1, two blocks) adds 2 x 2 x 196^2 x 4 bytes of
  // scores to the 7.26 MB: 7.87 MB, 34 images.
  UNetOptions attending;
  attending.attention_resolutions = {14};
  EXPECT_EQ(UNet(kMnist, attending)->divergence_rows_per_pass(), 34);
  UNetOptions narrow;
  narrow.channels = 8;
  // 512x512 images: 3.4 million level activations, over 256 MiB for one.
  EXPECT_EQ(UNet(std::vector<int64_t>{1, 512, 512}, narrow)->divergence_rows_per_pass(), 1);
}

// Counts the documented structure block by block: one skip per level, the
// skip joining the first up block of its level, attention after every res
// block at height 8 and between the two middle blocks.
TEST(UNet, ParameterCountFollowsStructureWithResBlocksAndAttention) {
  const int64_t th = 32;
  int64_t expected = (16 + 1) * th + (th + 1) * th + conv(3, 16, 3);
  expected += 2 * res(16, 16, th) + conv(16, 16, 3);                  // level 0 down
  expected += res(16, 32, th) + res(32, 32, th) + 2 * attention(32);  // level 1 down
  expected += 2 * res(32, 32, th) + attention(32);                    // middle
  expected += res(64, 32, th) + res(32, 32, th) + 2 * attention(32);  // level 1 up
  expected += conv(32, 32, 3) + res(48, 16, th) + res(16, 16, th);    // level 0 up
  expected += 2 * 16 + conv(16, 3, 3);                                // output
  EXPECT_EQ(UNet(std::vector<int64_t>{3, 16, 16}, small_options())->parameter_count(), expected);
}

TEST(UNet, OutputHasInputShapeWithResBlocksAndAttention) {
  UNet unet(std::vector<int64_t>{3, 16, 16}, small_options());
  auto gen = make_generator(3);
  auto v = unet->forward(torch::randn({2, 3, 16, 16}, gen), torch::rand({2}, gen));
  EXPECT_EQ(v.sizes(), (std::vector<int64_t>{2, 3, 16, 16}));
  EXPECT_TRUE(torch::isfinite(v).all().item<bool>());
}

// The reference UNet's parameters, loaded by name, give the reference output.
// float32: 2e-5 absolute on outputs up to ~1.7 (the reference's own float32
// and float64 outputs differ by 7e-6). float64: 1e-10 absolute.
TEST(UNet, OutputEqualsReferenceForTheSameWeights) {
  auto golden = test::load_golden("unet");
  UNet unet(kMnist, UNetOptions{});
  ASSERT_EQ(test::load_recipe_parameters(*unet, golden.json.at("parameters")), "");
  torch::NoGradGuard no_grad;
  EXPECT_LT(test::max_abs_diff(unet->forward(golden.x, golden.t), golden.output_float32), 2e-5);
  unet->to(torch::kDouble);
  auto v = unet->forward(golden.x.to(torch::kDouble), golden.t.to(torch::kDouble));
  EXPECT_LT(test::max_abs_diff(v, golden.output_float64), 1e-10);
}

// The U-Net runs channels-last on the CPU unless told not to: velocities and
// parameter gradients agree with the NCHW layout LibTorch's modules use, with
// attention, several levels and res blocks, and three input channels.
TEST(UNet, ChannelsLastAndNchwGiveTheSameVelocityAndGradients) {
  UNet unet(std::vector<int64_t>{3, 16, 16}, small_options());
  unet->to(torch::kDouble);
  auto gen = make_generator(9);
  auto x = torch::randn({3, 3, 16, 16}, gen).to(torch::kDouble);
  auto t = torch::rand({3}, gen).to(torch::kDouble);
  auto run = [&](bool channels_last) {
    unet->set_channels_last(channels_last);
    unet->zero_grad();
    auto v = unet->forward(x, t);
    v.pow(2).sum().backward();
    std::vector<torch::Tensor> grads;
    for (const auto& p : unet->parameters()) grads.push_back(p.grad().clone());
    return std::make_pair(v.detach(), grads);
  };
  const auto [v_nchw, g_nchw] = run(false);
  const auto [v_cl, g_cl] = run(true);
  EXPECT_TRUE(v_cl.is_contiguous());
  EXPECT_LT(test::max_abs_diff(v_cl, v_nchw), 1e-12);
  EXPECT_GT(v_nchw.abs().max().item<double>(), 1e-3);  // not trivially zero
  ASSERT_EQ(g_cl.size(), g_nchw.size());
  for (size_t i = 0; i < g_cl.size(); ++i) {
    EXPECT_LT(test::max_abs_diff(g_cl[i], g_nchw[i]), 1e-10) << "parameter " << i;
  }
  torch::InferenceMode inference;  // sampling's path
  EXPECT_LT(test::max_abs_diff(unet->forward(x, t), v_nchw), 1e-12);
}

// Same seed, same initial weights as cfm_ref.py: this fails if modules are
// created in another order than the reference's.
// NOTE: module init draws from LibTorch's global generator, so this test seeds it.
TEST(UNet, SeededInitialisationEqualsReference) {
  auto golden = test::load_golden("unet");
  torch::manual_seed(0);
  UNet unet(kMnist, UNetOptions{});
  auto params = unet->named_parameters();
  ASSERT_EQ(params.size(), golden.json.at("seed0_init").size());
  for (const auto& r : golden.json.at("seed0_init")) {
    const auto* p = params.find(r.at("name").get<std::string>());
    ASSERT_NE(p, nullptr) << r.at("name");
    // Sums in float64 of up to 37k float32 values: 1e-9 absolute.
    EXPECT_NEAR(p->to(torch::kDouble).sum().item<double>(), r.at("sum").get<double>(), 1e-9)
        << r.at("name");
    EXPECT_EQ(p->reshape(-1)[0].item<float>(), static_cast<float>(r.at("head")[0].get<double>()))
        << r.at("name");
  }
}

TEST(UNet, GradientReachesEveryParameter) {
  UNet unet(std::vector<int64_t>{3, 16, 16}, small_options());
  auto gen = make_generator(4);
  auto v = unet->forward(torch::randn({2, 3, 16, 16}, gen), torch::rand({2}, gen));
  (v - torch::randn(v.sizes(), gen)).square().mean().backward();
  for (const auto& p : unet->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
  }
}

TEST(UNet, DropoutActsInTrainingModeOnly) {
  auto o = small_options();
  o.dropout = 0.5;
  UNet unet(std::vector<int64_t>{3, 16, 16}, o);
  auto gen = make_generator(5);
  auto x = torch::randn({2, 3, 16, 16}, gen);
  auto t = torch::rand({2}, gen);
  torch::NoGradGuard no_grad;
  unet->eval();
  EXPECT_TRUE(torch::equal(unet->forward(x, t), unet->forward(x, t)));
  unet->train();
  // Two dropout masks differ, so outputs differ by far more than rounding (1e-3).
  EXPECT_GT(test::max_abs_diff(unet->forward(x, t), unet->forward(x, t)), 1e-3);
}

// Message text for an options/shape combination that must be refused.
std::string construction_error(const std::vector<int64_t>& shape, const UNetOptions& o) {
  try {
    UNet unet(shape, o);
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

TEST(UNet, RejectsSpatialSizeTheLevelsCannotHalve) {
  const auto message = construction_error({1, 30, 30}, UNetOptions{});
  EXPECT_NE(message.find("model.channel_mult"), std::string::npos) << message;
  EXPECT_NE(message.find("(1, 30, 30)"), std::string::npos) << message;
}

TEST(UNet, RejectsGroupsThatDoNotDivideChannels) {
  UNetOptions o;
  o.groups = 5;
  const auto message = construction_error(kMnist, o);
  EXPECT_NE(message.find("model.groups"), std::string::npos) << message;
}

TEST(UNet, RejectsAttentionAtAResolutionNoLevelHas) {
  UNetOptions o;
  o.attention_resolutions = {10};
  const auto message = construction_error(kMnist, o);
  EXPECT_NE(message.find("model.attention_resolutions"), std::string::npos) << message;
}

TEST(UNet, RejectsHeadsThatDoNotDivideAttendedChannels) {
  UNetOptions o;
  o.attention_resolutions = {7};
  o.num_heads = 3;
  const auto message = construction_error(kMnist, o);
  EXPECT_NE(message.find("model.num_heads"), std::string::npos) << message;
}

TEST(UNet, RejectsFlatData) {
  const auto message = construction_error({784}, UNetOptions{});
  EXPECT_NE(message.find("(C, H, W)"), std::string::npos) << message;
}

// Our attention block against torch.nn.MultiheadAttention (2 heads, 16
// channels, 4x4 positions). float32: 1e-5 absolute on outputs up to ~3.2;
// float64: 1e-12 absolute.
TEST(AttentionBlock, OutputEqualsMultiheadAttention) {
  auto golden = test::load_golden("attention");
  const auto& j = golden.json;
  AttentionBlock block(j.at("channels").get<int64_t>(), j.at("num_heads").get<int64_t>(),
                       j.at("groups").get<int64_t>());
  ASSERT_EQ(test::load_recipe_parameters(*block, j.at("parameters")), "");
  torch::NoGradGuard no_grad;
  EXPECT_LT(test::max_abs_diff(block->forward(golden.x), golden.output_float32), 1e-5);
  block->to(torch::kDouble);
  auto out = block->forward(golden.x.to(torch::kDouble));
  EXPECT_LT(test::max_abs_diff(out, golden.output_float64), 1e-12);
}

}  // namespace
}  // namespace fm
