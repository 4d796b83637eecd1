#include "fm/nn/velocity_model.h"

#include <gtest/gtest.h>

#include "fm/common/error.h"
#include "fm/common/random.h"

namespace fm {
namespace {

using nlohmann::json;

std::string build_error(const json& model, const std::vector<int64_t>& shape) {
  try {
    make_velocity_model(model, shape);
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

TEST(MakeVelocityModel, BuildsMlpFromKeys) {
  auto model = make_velocity_model(
      {{"type", "mlp"}, {"hidden", 512}, {"depth", 3}, {"activation", "silu"}}, {8});
  EXPECT_EQ(model->parameter_count(), 534536);
  auto gen = make_generator(0);
  auto v = model->forward(torch::randn({3, 8}, gen), torch::rand({3}, gen));
  EXPECT_EQ(v.sizes(), (std::vector<int64_t>{3, 8}));
}

TEST(MakeVelocityModel, BuildsReferenceUNetFromType) {
  auto model = make_velocity_model({{"type", "unet"}}, {1, 28, 28});
  EXPECT_EQ(model->parameter_count(), 776929);
}

TEST(MakeVelocityModel, UnknownKeyErrorNamesModelKey) {
  const auto message = build_error({{"type", "mlp"}, {"hiden", 64}}, {2});
  EXPECT_NE(message.find("model.hiden"), std::string::npos) << message;
  EXPECT_NE(message.find("model.hidden"), std::string::npos) << "no hint: " << message;
}

TEST(MakeVelocityModel, KeyOfTheOtherTypeIsUnknown) {
  const auto message = build_error({{"type", "mlp"}, {"channels", 32}}, {2});
  EXPECT_NE(message.find("model.channels"), std::string::npos) << message;
}

TEST(MakeVelocityModel, UnknownTypeErrorListsTypes) {
  const auto message = build_error({{"type", "transformer"}}, {2});
  EXPECT_NE(message.find("model.type"), std::string::npos) << message;
  EXPECT_NE(message.find("mlp, unet"), std::string::npos) << message;
}

TEST(MakeVelocityModel, OutOfRangeValueErrorNamesKey) {
  auto message = build_error({{"type", "mlp"}, {"hidden", 0}}, {2});
  EXPECT_NE(message.find("model.hidden"), std::string::npos) << message;
  message = build_error({{"type", "unet"}, {"dropout", 1.0}}, {1, 28, 28});
  EXPECT_NE(message.find("model.dropout"), std::string::npos) << message;
  message = build_error({{"type", "mlp"}, {"activation", "swish"}}, {2});
  EXPECT_NE(message.find("model.activation"), std::string::npos) << message;
}

TEST(MakeVelocityModel, MlpRejectsImageShape) {
  const auto message = build_error({{"type", "mlp"}}, {1, 28, 28});
  EXPECT_NE(message.find("(1, 28, 28)"), std::string::npos) << message;
}

TEST(MakeVelocityModel, MlpLargerThanMemoryIsRefusedByKeyBeforeAllocating) {
  // 10^7 hidden units, 4 layers: 3e14 parameters, petabytes to train; refused
  // from the arithmetic alone (an allocation would fail or be killed).
  const auto message = build_error({{"type", "mlp"}, {"hidden", 10000000}, {"depth", 4}}, {2});
  EXPECT_NE(message.find("model.hidden = 10000000"), std::string::npos) << message;
  EXPECT_NE(message.find("model.depth = 4"), std::string::npos) << message;
  EXPECT_NE(message.find("3e+14 parameters"), std::string::npos) << message;
  EXPECT_NE(message.find("of memory"), std::string::npos) << message;
  // Wide but shallow fits: 2 -> 2,000,000 -> 2 is 1e7 parameters.
  auto model = make_velocity_model({{"type", "mlp"}, {"hidden", 2000000}, {"depth", 1}}, {2});
  EXPECT_EQ(model->parameter_count(), (3 * 2000000 + 2000000) + (2000000 * 2 + 2));
}

TEST(ResolvedModelConfig, ListsEveryMlpKeyWithDefaults) {
  const json expected = {{"type", "mlp"},
                         {"hidden", 256},
                         {"depth", 4},
                         {"activation", "silu"},
                         {"time_embedding", "concat"},
                         {"time_embedding_dim", 32}};
  EXPECT_EQ(resolved_model_config({{"type", "mlp"}}), expected);
}

TEST(ResolvedModelConfig, ListsEveryUNetKeyWithGivenAndDefaultValues) {
  const json resolved = resolved_model_config({{"type", "unet"}, {"channels", 64}});
  const json expected = {{"type", "unet"},
                         {"channels", 64},
                         {"channel_mult", {1, 2, 2}},
                         {"num_res_blocks", 1},
                         {"attention_resolutions", json::array()},
                         {"num_heads", 1},
                         {"dropout", 0.0},
                         {"groups", 8},
                         {"time_embedding_dim", 32},
                         {"time_hidden", 128}};
  EXPECT_EQ(resolved, expected);
}

TEST(ResolvedModelConfig, RejectsUnknownKey) {
  EXPECT_THROW(resolved_model_config({{"type", "unet"}, {"chanels", 64}}), InputError);
}

}  // namespace
}  // namespace fm
