// fm-train and fm-eval as two loopback ranks: exact resume, rank 0 alone
// writes, config errors, and sharded evaluation equal to one process.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dist/launch.h"
#include "fm/train/trained_model.h"
#include "io/temp_dir.h"

namespace fm {
namespace {

using fm::testing::read_bytes;
using fm::testing::run_world;
using fm::testing::TempDir;

constexpr auto kLimit = std::chrono::seconds(60);

// A tiny moons run: 2x32 MLP, batch 64, validation and checkpoints every 10 steps.
std::string write_config(const TempDir& dir) {
  nlohmann::json config = {{"name", "dist-test"},
                           {"seed", 3},
                           {"data", {{"type", "moons"}, {"n_val", 200}, {"n_test", 300}}},
                           {"model", {{"type", "mlp"}, {"hidden", 32}, {"depth", 2}}},
                           {"train",
                            {{"steps", 20},
                             {"batch_size", 64},
                             {"ema_decay", 0.9},
                             {"log_every", 5},
                             {"val_every", 10},
                             {"val_size", 200},
                             {"checkpoint_every", 10}}},
                           {"eval", {{"solver", "rk4"}, {"steps", 8}, {"batch_size", 64}}}};
  std::string path = dir.file("config.json");
  std::ofstream(path) << config.dump(2);
  return path;
}

// Runs a program as every rank of a world; expects every rank to exit with `code`.
void expect_world(int world_size, const std::vector<std::string>& argv, const std::string& logs,
                  int code) {
  auto codes = run_world(world_size, argv, logs, kLimit);
  for (int r = 0; r < world_size; ++r) {
    EXPECT_EQ(codes[r], code) << "rank " << r << " of " << world_size << ":\n"
                              << read_bytes(logs + ".rank" + std::to_string(r) + ".log");
  }
}

std::vector<std::string> train_command(const std::string& config, const std::string& out,
                                       std::vector<std::string> extra = {}) {
  std::vector<std::string> argv{FM_TRAIN_PROGRAM, "--config", config,           "--out", out,
                                "--threads",      "1",        "--dist-timeout", "20"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

// The raw and EMA weights of a checkpoint, flattened.
torch::Tensor checkpoint_weights(const std::string& path) {
  std::vector<torch::Tensor> flat;
  for (bool ema : {false, true}) {
    auto trained = load_trained_model(
        path, [](nlohmann::json&) {}, ema);
    for (const auto& p : trained.model->parameters()) flat.push_back(p.detach().reshape({-1}));
  }
  return torch::cat(flat);
}

int64_t count_lines(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) n += !line.empty();
  return n;
}

TEST(DistributedPrograms, TwoRankTrainingResumesExactly) {
  TempDir dir;
  auto config = write_config(dir);
  std::string straight = dir.file("straight"), resumed = dir.file("resumed");

  // 20 steps at once, and 10 + 10 with a resume in between.
  expect_world(2, train_command(config, straight), dir.file("straight"), 0);
  expect_world(2, train_command(config, resumed, {"--set", "train.steps=10"}), dir.file("first"),
               0);
  expect_world(2, train_command(config, resumed, {"--resume"}), dir.file("second"), 0);

  auto a = checkpoint_weights(straight + "/checkpoints/latest.pt");
  auto b = checkpoint_weights(resumed + "/checkpoints/latest.pt");
  EXPECT_TRUE(torch::equal(a, b)) << "max difference " << (a - b).abs().max().item<double>();

  // Rank 0 alone writes: one metrics row per 5 steps, not one per rank.
  EXPECT_EQ(count_lines(straight + "/metrics.jsonl"), 4);
  EXPECT_EQ(count_lines(resumed + "/metrics.jsonl"), 4);
}

TEST(DistributedPrograms, ResumingWithAnotherWorldSizeIsAUsageError) {
  TempDir dir;
  auto config = write_config(dir);
  std::string out = dir.file("run");
  expect_world(2, train_command(config, out, {"--set", "train.steps=10"}), dir.file("first"), 0);
  expect_world(1, train_command(config, out, {"--resume"}), dir.file("single"), 2);
  EXPECT_NE(read_bytes(dir.file("single.rank0.log")).find("written by a run of 2 process(es)"),
            std::string::npos);
}

TEST(DistributedPrograms, IndivisibleBatchIsAConfigError) {
  TempDir dir;
  auto config = write_config(dir);
  expect_world(2, train_command(config, dir.file("run"), {"--set", "train.batch_size=63"}),
               dir.file("odd"), 2);
  auto log = read_bytes(dir.file("odd.rank0.log"));
  EXPECT_NE(log.find("'train.batch_size' = 63 is not divisible by WORLD_SIZE = 2"),
            std::string::npos)
      << log;
}

// 300 points in batches of 64 give rank 0 batches {0, 2, 4} (the last one
// short) and rank 1 batches {1, 3}. Exact divergence is the default path;
// Hutchinson probes make the per-batch noise matter.
TEST(DistributedPrograms, ShardedEvaluationEqualsOneProcess) {
  TempDir dir;
  auto config = write_config(dir);
  std::string out = dir.file("run");
  expect_world(1, train_command(config, out), dir.file("train"), 0);

  for (std::string estimator : {"exact", "hutchinson"}) {
    SCOPED_TRACE(estimator);
    auto eval_command = [&](const std::string& json) {
      std::vector<std::string> argv{
          FM_EVAL_PROGRAM, "--checkpoint", out + "/checkpoints/best.pt", "--threads", "1",
          "--dist-timeout"};
      argv.insert(argv.end(), {"20", "--estimator", estimator, "--json", json});
      return argv;
    };
    expect_world(1, eval_command(dir.file(estimator + "1.json")), dir.file(estimator + "1"), 0);
    expect_world(2, eval_command(dir.file(estimator + "2.json")), dir.file(estimator + "2"), 0);

    auto one = nlohmann::json::parse(read_bytes(dir.file(estimator + "1.json")));
    auto two = nlohmann::json::parse(read_bytes(dir.file(estimator + "2.json")));
    EXPECT_EQ(two["n"], 300);
    EXPECT_EQ(two["n"], one["n"]);
    EXPECT_EQ(two["nfe"], one["nfe"]);
    EXPECT_NEAR(two["nll_nats"].get<double>(), one["nll_nats"].get<double>(), 1e-12);
    EXPECT_NEAR(two["nll_stderr"].get<double>(), one["nll_stderr"].get<double>(), 1e-12);
    EXPECT_GT(one["nll_stderr"].get<double>(), 0.0);
  }
}

}  // namespace
}  // namespace fm
