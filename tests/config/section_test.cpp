// ConfigSection and config loading: typed reads, defaults, ranges, unknown keys,
// overrides. Every error must name the full key path and the value at fault.
#include <gtest/gtest.h>

#include <fstream>

#include "fm/common/error.h"
#include "fm/config/load.h"
#include "fm/config/section.h"

namespace fm {
namespace {

using json = nlohmann::json;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(ConfigSection, ReturnsDefaultsAndRecordsThemWhenKeysAreAbsent) {
  ConfigSection s(json::object(), "train");
  EXPECT_EQ(s.integer("steps", 2000, 1), 2000);
  EXPECT_DOUBLE_EQ(s.number("lr", 1e-3, 0, 1, true), 1e-3);
  EXPECT_EQ(s.string("name", "x"), "x");
  EXPECT_EQ(s.resolved(), json({{"steps", 2000}, {"lr", 1e-3}, {"name", "x"}}));
}

TEST(ConfigSection, ReadsGivenValues) {
  ConfigSection s(json{{"steps", 5}, {"lr", 0.5}, {"ema", true}, {"mult", {1, 2, 2}}}, "train");
  EXPECT_EQ(s.integer("steps", 1), 5);
  EXPECT_DOUBLE_EQ(s.number("lr", 1.0), 0.5);
  EXPECT_TRUE(s.boolean("ema", false));
  EXPECT_EQ(s.integers("mult", {}), (std::vector<int64_t>{1, 2, 2}));
  EXPECT_NO_THROW(s.finish());
}

TEST(ConfigSection, OutOfRangeValueNamesKeyValueAndBound) {
  ConfigSection s(json{{"lr", -1}}, "train");
  auto message = error_of([&] { s.number("lr", 1e-3, 0.0, 10.0, true); });
  EXPECT_NE(message.find("'train.lr' = -1"), std::string::npos) << message;
  EXPECT_NE(message.find("> 0"), std::string::npos) << message;
}

TEST(ConfigSection, WrongTypeNamesKeyAndExpectedType) {
  ConfigSection s(json{{"steps", "many"}, {"half", 2.5}}, "train");
  auto message = error_of([&] { s.integer("steps", 1); });
  EXPECT_NE(message.find("'train.steps' = \"many\" must be an integer"), std::string::npos)
      << message;
  message = error_of([&] { s.integer("half", 1); });
  EXPECT_NE(message.find("must be an integer"), std::string::npos) << message;
}

TEST(ConfigSection, IntegralFloatIsAcceptedAsInteger) {
  ConfigSection s(json{{"steps", 100.0}}, "train");
  EXPECT_EQ(s.integer("steps", 1), 100);
}

TEST(ConfigSection, UnknownKeySuggestsNearestValidKey) {
  ConfigSection s(json{{"stpes", 5}}, "train");
  s.integer("steps", 1);
  s.integer("batch_size", 1);
  auto message = error_of([&] { s.finish(); });
  EXPECT_NE(message.find("unknown key 'train.stpes'"), std::string::npos) << message;
  EXPECT_NE(message.find("did you mean 'train.steps'"), std::string::npos) << message;
}

// A key put one section too high ('train.lr') points to where it belongs,
// found among the keys read from the sections below; never to another root's.
TEST(ConfigSection, UnknownKeySuggestsTheSameKeyInASectionBelow) {
  ConfigSection root(json{{"train", {{"lr", 0.1}, {"optimizer", {{"lr", 0.2}}}}}}, "");
  auto train = root.section("train");
  auto optimizer = train.section("optimizer");
  EXPECT_EQ(optimizer.number("lr", 1e-3), 0.2);
  optimizer.finish();
  auto message = error_of([&] { train.finish(); });
  EXPECT_NE(message.find("unknown key 'train.lr' (did you mean 'train.optimizer.lr'?)"),
            std::string::npos)
      << message;

  ConfigSection other(json{{"lr", 0.1}}, "train");
  message = error_of([&] { other.finish(); });
  EXPECT_EQ(message.find("did you mean"), std::string::npos) << message;
}

// The data and model sections are read by their own readers, after the
// root has been checked: a key of theirs put at the root ('--set hidden=3')
// points to where the config holds it.
TEST(ConfigSection, UnknownKeySuggestsWhereTheConfigHoldsIt) {
  ConfigSection root(json{{"hidden", 3}, {"model", {{"type", "mlp"}, {"hidden", 256}}}}, "");
  root.section("model");
  auto message = error_of([&] { root.finish(); });
  EXPECT_NE(message.find("unknown key 'hidden' (did you mean 'model.hidden'?)"), std::string::npos)
      << message;
  // The same name in the sections below wins over a near name at the root
  // ('seed'); all of them are named.
  ConfigSection typo(json{{"seed", 0}, {"steps", 3}}, "");
  typo.integer("seed", 0);
  typo.section("train").integer("steps", 1);
  typo.section("eval").integer("steps", 1);
  typo.section("sample").integer("steps", 1);
  message = error_of([&] { typo.finish(); });
  EXPECT_NE(message.find("unknown key 'steps' (did you mean 'eval.steps', 'sample.steps' or "
                         "'train.steps'?)"),
            std::string::npos)
      << message;
}

TEST(ConfigSection, ChoiceListsValidNames) {
  ConfigSection s(json{{"solver", "rk5"}}, "sample");
  auto message = error_of([&] { s.choice("solver", "rk4", {"euler", "rk4", "dopri5"}); });
  EXPECT_NE(message.find("must be one of: euler, rk4, dopri5"), std::string::npos) << message;
  EXPECT_NE(message.find("did you mean 'rk4'"), std::string::npos) << message;
}

TEST(ConfigSection, NonObjectSectionIsRejected) {
  auto message = error_of([] { ConfigSection(json(3), "model"); });
  EXPECT_NE(message.find("'model' = 3 must be an object"), std::string::npos) << message;
}

TEST(ConfigSection, NestedSectionCarriesFullPath) {
  ConfigSection root(json{{"train", {{"optimizer", {{"lr", 0}}}}}}, "");
  auto train = root.section("train");
  auto optimizer = train.section("optimizer");
  auto message = error_of([&] { optimizer.number("lr", 1e-3, 0, 1, true); });
  EXPECT_NE(message.find("'train.optimizer.lr' = 0"), std::string::npos) << message;
}

TEST(ApplyOverride, ParsesJsonValuesAndFallsBackToStrings) {
  json config = {{"train", {{"lr", 1e-3}}}};
  apply_override(config, "train.lr=3e-4");
  apply_override(config, "train.ema=true");
  apply_override(config, "model.type=mlp");
  apply_override(config, "model.channel_mult=[1,2]");
  EXPECT_DOUBLE_EQ(config["train"]["lr"].get<double>(), 3e-4);
  EXPECT_EQ(config["train"]["ema"], true);
  EXPECT_EQ(config["model"]["type"], "mlp");
  EXPECT_EQ(config["model"]["channel_mult"], json({1, 2}));
}

TEST(ApplyOverride, RejectsMalformedAssignmentsByName) {
  json config = {{"train", 5}};
  EXPECT_NE(error_of([&] { apply_override(config, "train.lr"); }).find("key.path=value"),
            std::string::npos);
  EXPECT_NE(error_of([&] { apply_override(config, "train.lr=1"); }).find("'train' is not an object"),
            std::string::npos);
}

TEST(LoadConfig, SyntaxErrorNamesTheFile) {
  std::string path = std::string(FM_BINARY_DIR) + "/bad_config_test.json";
  std::ofstream(path) << "{\"train\": {\"steps\": 5,}}";
  auto message = error_of([&] { load_config(path, {}); });
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("not valid JSON"), std::string::npos) << message;
  message = error_of([] { load_config("/nonexistent/run.json", {}); });
  EXPECT_NE(message.find("cannot read file '/nonexistent/run.json'"), std::string::npos);
}

TEST(LoadConfig, KeyGivenTwiceIsNamedWithItsPath) {
  std::string path = std::string(FM_BINARY_DIR) + "/duplicate_key_test.json";
  std::ofstream(path) << R"({"train": {"steps": 5, "optimizer": {"lr": 1e-3, "lr": 1e-2}}})";
  auto message = error_of([&] { load_config(path, {}); });
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("'train.optimizer.lr' twice"), std::string::npos) << message;

  std::ofstream(path) << R"({"seed": 1, "data": {"type": "moons"}, "seed": 2})";
  message = error_of([&] { load_config(path, {}); });
  EXPECT_NE(message.find("'seed' twice"), std::string::npos) << message;

  // Inside an array of objects, and at the top level after a nested object.
  std::ofstream(path) << R"({"a": [{"k": 1}, {"k": 2, "k": 3}]})";
  message = error_of([&] { load_config(path, {}); });
  EXPECT_NE(message.find("'a[].k' twice"), std::string::npos) << message;
}

TEST(LoadConfig, SameKeyInDifferentObjectsIsAccepted) {
  std::string path = std::string(FM_BINARY_DIR) + "/same_key_test.json";
  std::ofstream(path) << R"({"type": "x", "model": {"type": "mlp"}, "data": {"type": "moons",
      "list": [{"type": 1}, {"type": 2}]}, "path": {"type": "condot"}})";
  const auto config = load_config(path, {});
  EXPECT_EQ(config["model"]["type"], "mlp");
  EXPECT_EQ(config["data"]["list"][1]["type"], 2);
  EXPECT_EQ(config["path"]["type"], "condot");
  EXPECT_EQ(config["type"], "x");
}

}  // namespace
}  // namespace fm
