// The training loop end to end on a toy problem: exact resume (known-answers
// T3, last sentence), reproducibility, outputs, and threads/seeds (T4).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "fm/common/error.h"
#include "fm/common/random.h"
#include "fm/data/dataset.h"
#include "fm/nn/mlp.h"
#include "fm/train/generate.h"
#include "fm/train/sliced_gradient.h"
#include "fm/train/trained_model.h"
#include "fm/train/trainer.h"
#include "support/thread_count.h"

namespace fm {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

json tiny_config(int64_t steps) {
  return {{"name", "tiny"},
          {"seed", 3},
          {"data", {{"type", "moons"}, {"n_val", 64}, {"n_test", 64}}},
          {"model", {{"type", "mlp"}, {"hidden", 16}, {"depth", 2}}},
          {"path", {{"type", "icfm"}, {"sigma", 0.1}}},
          {"train",
           {{"steps", steps}, {"batch_size", 32}, {"ema_decay", 0.9}, {"log_every", 1},
            {"val_every", 2}, {"val_size", 64}, {"checkpoint_every", 2},
            {"schedule", {{"type", "cosine"}, {"warmup_steps", 1}}}}}};
}

std::string fresh_dir(const std::string& name) {
  auto dir = fs::path(FM_BINARY_DIR) / "trainer_test" / name;
  fs::remove_all(dir);
  return dir.string();
}

TrainSummary train(const json& config, const std::string& dir, bool resume,
                   int64_t stop_after = 0) {
  auto options = parse_run_options(config);
  auto dataset = make_dataset(options.data, options.seed);
  Trainer trainer(options, *dataset, dir, resume);
  return trainer.run(stop_after);
}


std::vector<torch::Tensor> weights_of(const std::string& checkpoint, bool ema) {
  auto model = load_trained_model(checkpoint, nullptr, ema).model;
  std::vector<torch::Tensor> out;
  for (auto& p : model->parameters()) out.push_back(p.clone());
  return out;
}

std::vector<json> metrics(const std::string& dir) {
  std::ifstream in(fs::path(dir) / "metrics.jsonl");
  std::vector<json> rows;
  for (std::string line; std::getline(in, line);) rows.push_back(json::parse(line));
  return rows;
}

void expect_same_weights(const std::string& a_dir, const std::string& b_dir) {
  for (bool ema : {false, true}) {
    auto a = weights_of(a_dir + "/checkpoints/latest.pt", ema);
    auto b = weights_of(b_dir + "/checkpoints/latest.pt", ema);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << i;
  }
}

// Validation runs every val_every steps whether or not that is a logging
// step: each ends a metrics interval (log_every 4, val_every 3, 9 steps: rows
// at 3, 4, 6, 8, 9; validation losses at 3, 6, 9), and the row's loss is the
// mean over that interval only.
TEST(Trainer, ValidatesOnItsOwnScheduleApartFromLogging) {
  auto config = tiny_config(9);
  config["train"]["log_every"] = 4;
  config["train"]["val_every"] = 3;
  auto dir = fresh_dir("validation_schedule");
  train(config, dir, false);
  std::vector<int64_t> steps, validated;
  for (const auto& row : metrics(dir)) {
    steps.push_back(row["step"].get<int64_t>());
    if (row.contains("val_loss")) validated.push_back(row["step"].get<int64_t>());
  }
  EXPECT_EQ(steps, (std::vector<int64_t>{3, 4, 6, 8, 9}));
  EXPECT_EQ(validated, (std::vector<int64_t>{3, 6, 9}));

  // The same run logging every step: each row's loss is one step's, and the
  // intervals above average them.
  auto every = tiny_config(9);
  every["train"]["val_every"] = 3;
  auto every_dir = fresh_dir("validation_schedule_every");
  train(every, every_dir, false);
  const auto one = metrics(every_dir);
  ASSERT_EQ(one.size(), 9u);
  const auto rows = metrics(dir);
  EXPECT_NEAR(rows[1]["loss"].get<double>(), one[3]["loss"].get<double>(), 1e-12);  // step 4 alone
  const double steps_7_8 = (one[6]["loss"].get<double>() + one[7]["loss"].get<double>()) / 2;
  EXPECT_NEAR(rows[3]["loss"].get<double>(), steps_7_8, 1e-12);
}

// Interrupted after 4 steps and resumed to 8 equals 8 uninterrupted steps, bit
// for bit: weights, EMA, and every logged loss (so data order, x_0, t and path
// noise were restored too). On two threads, with a batch trained whole (32
// rows) and one trained in row slices (96 rows: 48 per thread).
TEST(Trainer, ResumeContinuesBitForBit) {
  test_support::ThreadCount two(2);
  ASSERT_EQ(gradient_slices(*MLP(2, MLPOptions{}), 96, torch::kCPU), 2);
  for (int64_t batch : {32, 96}) {
    auto config = tiny_config(8);
    config["train"]["batch_size"] = batch;
    const auto tag = std::to_string(batch);
    auto straight = fresh_dir("straight" + tag), resumed = fresh_dir("resumed" + tag);
    train(config, straight, false);
    train(config, resumed, false, /*stop_after=*/3);
    train(config, resumed, true);
    expect_same_weights(straight, resumed);

    auto rows_a = metrics(straight), rows_b = metrics(resumed);
    ASSERT_EQ(rows_a.size(), 8u);
    ASSERT_EQ(rows_b.size(), 8u);
    for (size_t i = 0; i < rows_a.size(); ++i) {
      EXPECT_EQ(rows_a[i]["step"], rows_b[i]["step"]);
      EXPECT_EQ(rows_a[i]["loss"].get<double>(), rows_b[i]["loss"].get<double>()) << i << tag;
    }
  }
}

// With a constant schedule, a finished run can be extended: 4 steps, then
// resumed to 8, equals 8 steps at once.
TEST(Trainer, ExtendingAFinishedRunEqualsOneLongerRun) {
  auto config = [](int64_t steps) {
    auto c = tiny_config(steps);
    c["train"]["schedule"] = {{"type", "constant"}};
    return c;
  };
  auto straight = fresh_dir("long"), extended = fresh_dir("extended");
  train(config(8), straight, false);
  train(config(4), extended, false);
  train(config(8), extended, true);
  expect_same_weights(straight, extended);
}

TEST(Trainer, WritesResolvedConfigMetricsAndCheckpoints) {
  auto dir = fresh_dir("outputs");
  auto summary = train(tiny_config(4), dir, false);
  EXPECT_EQ(summary.steps, 4);
  EXPECT_TRUE(fs::exists(dir + "/checkpoints/latest.pt"));
  EXPECT_TRUE(fs::exists(dir + "/checkpoints/best.pt"));
  std::ifstream in(dir + "/config.json");
  json config = json::parse(in);
  EXPECT_EQ(config["train"]["optimizer"]["lr"], 1e-3);  // defaults filled in
  EXPECT_EQ(config["model"]["activation"], "silu");
  auto rows = metrics(dir);
  ASSERT_EQ(rows.size(), 4u);
  for (const char* key : {"step", "loss", "lr", "grad_norm", "seconds"}) {
    EXPECT_TRUE(rows[3].contains(key)) << key;
  }
  EXPECT_TRUE(rows[1].contains("val_loss"));
  // No temporary files left behind.
  for (auto& entry : fs::recursive_directory_iterator(dir)) {
    EXPECT_EQ(entry.path().string().find(".tmp"), std::string::npos) << entry.path();
  }
}

TEST(Trainer, ResumeWithChangedConfigNamesTheKey) {
  auto dir = fresh_dir("changed");
  train(tiny_config(2), dir, false);
  auto changed = tiny_config(4);
  changed["train"]["batch_size"] = 16;
  try {
    train(changed, dir, true);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("train.batch_size"), std::string::npos) << e.what();
  }
}

// Another model (or dataset) is named before everything else, with both
// values, even when the free-text comment differs too and the checkpoint is
// past the new train.steps; the comment alone may differ.
TEST(Trainer, ResumeWithAnotherModelNamesTheModelFirst) {
  auto dir = fresh_dir("other_model");
  train(tiny_config(4), dir, false);
  auto other = tiny_config(2);
  other["comment"] = "another run";
  other["model"]["hidden"] = 32;
  try {
    train(other, dir, true);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("config key 'model.hidden' is 32 here but 16 in"),
              std::string::npos)
        << e.what();
  }
  auto commented = tiny_config(6);
  commented["comment"] = "continued";
  EXPECT_EQ(train(commented, dir, true).steps, 6);
}

TEST(Trainer, SameSeedSameRun) {
  auto a = fresh_dir("seed_a"), b = fresh_dir("seed_b");
  train(tiny_config(3), a, false);
  train(tiny_config(3), b, false);
  EXPECT_EQ(metrics(a)[2]["loss"].get<double>(), metrics(b)[2]["loss"].get<double>());
}

// T4: the source draws do not depend on the thread count, and Euler samples
// from 1 and 2 threads agree to 1e-6.
TEST(ThreadsAndSeeds, SamplesAgreeAcrossThreadCounts) {
  auto dir = fresh_dir("threads");
  train(tiny_config(2), dir, false);
  auto trained = load_trained_model(dir + "/checkpoints/latest.pt", nullptr, true);
  GenerateOptions options;
  options.solver.method = "euler";
  options.solver.steps = 20;
  options.num = 1000;
  std::vector<torch::Tensor> samples, draws;
  for (int threads : {1, 2}) {
    test_support::ThreadCount count(threads);
    EXPECT_EQ(torch::get_num_threads(), threads);
    auto g = make_generator(0);
    draws.push_back(torch::randn({1000, 2}, g));
    auto generator = make_generator(0);
    samples.push_back(
        generate_samples(*trained.model, {2}, options, generator, torch::kCPU).x_1);
  }
  EXPECT_TRUE(torch::equal(draws[0], draws[1]));
  EXPECT_LT((samples[0] - samples[1]).abs().max().item<double>(), 1e-6);
}

}  // namespace
}  // namespace fm
