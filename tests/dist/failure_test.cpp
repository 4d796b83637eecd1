// Failures end every rank with an error inside the timeout, never a hang: a
// killed rank, a stalled rank, a store nobody hosts.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dist/launch.h"
#include "fm/train/checkpoint.h"
#include "io/temp_dir.h"

namespace fm {
namespace {

using fm::testing::Clock;
using fm::testing::read_bytes;
using fm::testing::seconds_since;
using fm::testing::TempDir;

constexpr int kTimeoutSeconds = 4;

// Two fm-train ranks on a long run (1,000,000 steps), with a checkpoint every 20.
struct LongTraining {
  TempDir dir;
  std::vector<testing::Child> ranks;

  LongTraining() {
    nlohmann::json config = {{"name", "dist-failure"},
                             {"data", {{"type", "moons"}, {"n_val", 100}, {"n_test", 100}}},
                             {"model", {{"type", "mlp"}, {"hidden", 32}, {"depth", 2}}},
                             {"train",
                              {{"steps", 1000000},
                               {"batch_size", 64},
                               {"log_every", 20},
                               {"val_every", 0},
                               {"checkpoint_every", 20}}}};
    std::ofstream(dir.file("config.json")) << config.dump();
    int port = testing::free_loopback_port();
    for (int r = 0; r < 2; ++r) {
      ranks.push_back(testing::spawn(
          {FM_TRAIN_PROGRAM, "--config", dir.file("config.json"), "--out", dir.file("run"),
           "--threads", "1", "--dist-timeout", std::to_string(kTimeoutSeconds)},
          testing::rank_environment(r, 2, port), dir.file("rank" + std::to_string(r) + ".log")));
    }
  }
  ~LongTraining() {
    for (auto& child : ranks) testing::wait_for(child, Clock::now());  // kills leftovers
  }

  // True once rank 0 has written its first checkpoint (both ranks are training).
  bool wait_until_training(std::chrono::seconds limit) const {
    auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      if (std::filesystem::exists(dir.file("run/checkpoints/latest.pt"))) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  std::string log(int rank) const {
    return read_bytes(dir.file("rank" + std::to_string(rank) + ".log"));
  }
};

// Rank 0 must exit with status 1 within the timeout (plus start-up slack) and
// say which collective failed on which rank; its checkpoints stay whole.
void expect_clean_failure(LongTraining& run, Clock::time_point since) {
  auto code = testing::wait_for(run.ranks[0], since + std::chrono::seconds(kTimeoutSeconds + 10));
  double seconds = seconds_since(since);
  auto log = run.log(0);
  ASSERT_TRUE(code.has_value()) << "rank 0 still running after " << seconds << " s:\n" << log;
  EXPECT_EQ(*code, 1) << log;
  EXPECT_LT(seconds, kTimeoutSeconds + 3.0) << log;
  EXPECT_NE(log.find("failed on rank 0 of 2"), std::string::npos) << log;

  // Only whole checkpoints: no temporary files left, latest.pt readable.
  for (const auto& entry : std::filesystem::directory_iterator(run.dir.file("run/checkpoints"))) {
    auto name = entry.path().filename().string();
    EXPECT_TRUE(name == "latest.pt" || name == "best.pt") << name;
  }
  EXPECT_GE(read_checkpoint_meta(run.dir.file("run/checkpoints/latest.pt")).step, 20);
}

TEST(DistributedFailures, KilledRankEndsTheOtherWithinTheTimeout) {
  LongTraining run;
  ASSERT_TRUE(run.wait_until_training(std::chrono::seconds(30))) << run.log(0) << run.log(1);
  auto killed = Clock::now();
  ::kill(run.ranks[1].pid, SIGKILL);
  expect_clean_failure(run, killed);
}

TEST(DistributedFailures, StalledRankEndsTheOtherWithinTheTimeout) {
  LongTraining run;
  ASSERT_TRUE(run.wait_until_training(std::chrono::seconds(30))) << run.log(0) << run.log(1);
  auto stopped = Clock::now();
  ::kill(run.ranks[1].pid, SIGSTOP);  // alive, connected, silent
  expect_clean_failure(run, stopped);
  EXPECT_GE(seconds_since(stopped), kTimeoutSeconds - 0.5);  // it waited for the timeout
  ::kill(run.ranks[1].pid, SIGKILL);
}

TEST(DistributedFailures, MissingStoreEndsARankWithinTheTimeout) {
  TempDir dir;
  // Rank 1 of 2 alone: nobody hosts the store at the port.
  auto start = Clock::now();
  auto child = testing::spawn({FM_DIST_WORKER, dir.file("out"), "1024", "2"},
                              testing::rank_environment(1, 2, testing::free_loopback_port()),
                              dir.file("rank1.log"));
  auto code = testing::wait_for(child, start + std::chrono::seconds(15));
  auto log = read_bytes(dir.file("rank1.log"));
  ASSERT_TRUE(code.has_value()) << log;
  EXPECT_EQ(*code, 1) << log;
  EXPECT_LT(seconds_since(start), 2.0 + 5.0) << log;
  EXPECT_NE(log.find("rank 1 could not reach the rendezvous store"), std::string::npos) << log;
}

}  // namespace
}  // namespace fm
