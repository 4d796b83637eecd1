// The torchrun variables: none means one process with no-op collectives; a
// partial or malformed set is a usage error that names what is wrong.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <string>

#include "fm/common/error.h"
#include "fm/dist/process_group.h"

namespace fm {
namespace {

// Sets the five variables as given (absent: unset) and restores them afterwards.
class LaunchVariables {
 public:
  explicit LaunchVariables(const std::map<std::string, std::string>& values) {
    for (const char* name : kNames) {
      const char* old = std::getenv(name);
      if (old) saved_[name] = old;
      auto it = values.find(name);
      if (it == values.end()) {
        ::unsetenv(name);
      } else {
        ::setenv(name, it->second.c_str(), 1);
      }
    }
  }
  ~LaunchVariables() {
    for (const char* name : kNames) {
      auto it = saved_.find(name);
      if (it == saved_.end()) {
        ::unsetenv(name);
      } else {
        ::setenv(name, it->second.c_str(), 1);
      }
    }
  }

 private:
  static constexpr const char* kNames[] = {"RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR",
                                           "MASTER_PORT"};
  std::map<std::string, std::string> saved_;
};

std::string input_error(const std::function<void()>& body) {
  try {
    body();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(LaunchEnvironment, NoVariablesMeansSingleProcess) {
  LaunchVariables none({});
  EXPECT_FALSE(read_launch_environment().has_value());
  auto dist = Distributed::from_environment(std::chrono::seconds(1));
  EXPECT_EQ(dist.rank(), 0);
  EXPECT_EQ(dist.world_size(), 1);
  EXPECT_TRUE(dist.is_main());
  EXPECT_FALSE(dist.is_distributed());
}

TEST(LaunchEnvironment, SingleProcessCollectivesLeaveTheirArgumentsUntouched) {
  const auto& dist = Distributed::single_process();
  auto value = torch::tensor({1.5, -2.0}, torch::kFloat64);
  dist.all_reduce_sum(value);
  EXPECT_TRUE(torch::equal(value, torch::tensor({1.5, -2.0}, torch::kFloat64)));

  auto w = torch::ones({3}, torch::requires_grad());
  (w * torch::tensor({1.0f, 2.0f, 3.0f})).sum().backward();
  dist.all_reduce_gradients({w});
  EXPECT_TRUE(torch::equal(w.grad(), torch::tensor({1.0f, 2.0f, 3.0f})));

  EXPECT_EQ(dist.all_gather(value).sizes(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(dist.broadcast_from_main(0.25), 0.25);
  dist.barrier();
  EXPECT_EQ(dist.collectives_issued(), 0);
}

TEST(LaunchEnvironment, WorldSizeOneIsSingleProcessWithoutRendezvous) {
  // Port 1 cannot be served by this test: a rendezvous would fail.
  LaunchVariables one(
      {{"RANK", "0"}, {"WORLD_SIZE", "1"}, {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", "1"}});
  auto dist = Distributed::from_environment(std::chrono::seconds(1));
  EXPECT_FALSE(dist.is_distributed());
  EXPECT_EQ(dist.rank(), 0);
}

TEST(LaunchEnvironment, PartialSetNamesTheMissingVariables) {
  LaunchVariables partial({{"RANK", "1"}, {"WORLD_SIZE", "2"}});
  auto message = input_error([] { read_launch_environment(); });
  EXPECT_NE(message.find("MASTER_ADDR, MASTER_PORT not set"), std::string::npos) << message;
  EXPECT_EQ(message.find("LOCAL_RANK"), std::string::npos) << message;  // optional
}

TEST(LaunchEnvironment, LocalRankDefaultsToRank) {
  LaunchVariables set(
      {{"RANK", "1"}, {"WORLD_SIZE", "3"}, {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", "29500"}});
  auto env = read_launch_environment();
  ASSERT_TRUE(env.has_value());
  EXPECT_EQ(env->rank, 1);
  EXPECT_EQ(env->local_rank, 1);
  EXPECT_EQ(env->world_size, 3);
  EXPECT_EQ(env->master_port, 29500);
}

TEST(LaunchEnvironment, RankOutsideTheWorldIsRejected) {
  LaunchVariables bad(
      {{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", "29500"}});
  auto message = input_error([] { read_launch_environment(); });
  EXPECT_NE(message.find("RANK='2' must be an integer in [0, 1]"), std::string::npos) << message;
}

TEST(LaunchEnvironment, MalformedPortIsRejected) {
  LaunchVariables bad({{"RANK", "0"},
                       {"WORLD_SIZE", "2"},
                       {"MASTER_ADDR", "127.0.0.1"},
                       {"MASTER_PORT", "29500x"}});
  auto message = input_error([] { read_launch_environment(); });
  EXPECT_NE(message.find("MASTER_PORT='29500x' must be an integer in [1, 65535]"),
            std::string::npos)
      << message;
}

}  // namespace
}  // namespace fm
