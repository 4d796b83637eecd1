// first_difference: the key a refused --resume or checkpoint override names.
#include "fm/config/json_diff.h"

#include <gtest/gtest.h>

namespace fm {
namespace {

using json = nlohmann::json;

TEST(FirstDifference, NamesTheChangedValueBeforeKeysOnlyOneSideHas) {
  // A CSV run resumed with a moons config: the data type changed, and with it
  // the keys each type has; the type is the cause.
  const json csv = {{"data", {{"type", "csv"}, {"split_seed", 0}, {"train", "t.csv"}}}};
  const json moons = {{"data", {{"n_test", 2000}, {"type", "moons"}}}};
  EXPECT_EQ(first_difference(csv, moons, {}), "data.type");
  EXPECT_EQ(first_difference(moons, csv, {}), "data.type");
}

TEST(FirstDifference, KeyOnlyOneSideHasWhenValuesAgree) {
  const json a = {{"train", {{"steps", 5}, {"lr", 1}}}};
  const json b = {{"train", {{"steps", 5}}}};
  EXPECT_EQ(first_difference(a, b, {}), "train.lr");
  EXPECT_EQ(first_difference(b, a, {}), "train.lr");
}

TEST(FirstDifference, IgnoredPathsAndAgreement) {
  const json a = {{"train", {{"steps", 5}, {"batch", 2}}}, {"eval", {{"steps", 1}}}};
  json b = a;
  EXPECT_EQ(first_difference(a, b, {}), "");
  b["train"]["steps"] = 9;
  b["eval"] = json::object();
  EXPECT_EQ(first_difference(a, b, {"train.steps", "eval"}), "");
  EXPECT_EQ(first_difference(a, b, {"eval"}), "train.steps");
  b["train"]["batch"] = 3;
  EXPECT_EQ(first_difference(a, b, {"train.steps", "eval"}), "train.batch");
}

}  // namespace
}  // namespace fm
