// Data-parallel known answer: 2 processes x 64 rows average to the gradient of
// 1 process x 128 rows on the same rows, and take the same Adam steps
// (fm_dist_worker, see tests/dist/worker/dist_worker.cpp).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "dist/launch.h"
#include "io/temp_dir.h"

namespace fm {
namespace {

using fm::testing::run_world;
using fm::testing::TempDir;

struct WorkerOutput {
  torch::Tensor first_gradient, final_weights;
  int64_t reduces_per_step = 0, world_size = 0;
};

// Runs the worker as a world of `world_size` and reads every rank's output.
std::vector<WorkerOutput> run_worker(const TempDir& dir, const std::string& name, int world_size,
                                     int64_t bucket_bytes) {
  std::string prefix = dir.file(name);
  auto codes = run_world(world_size, {FM_DIST_WORKER, prefix, std::to_string(bucket_bytes), "20"},
                         prefix, std::chrono::seconds(60));
  std::vector<WorkerOutput> outputs;
  for (int r = 0; r < world_size; ++r) {
    EXPECT_EQ(codes[r], 0) << "rank " << r << ": "
                           << testing::read_bytes(prefix + ".rank" + std::to_string(r) + ".log");
    if (codes[r] != 0) return {};
    std::vector<torch::Tensor> saved;
    torch::load(saved, prefix + ".rank" + std::to_string(r) + ".pt");
    outputs.push_back(
        {saved[0], saved[1], saved[2][0].item<int64_t>(), saved[2][1].item<int64_t>()});
  }
  return outputs;
}

double max_abs_difference(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

TEST(DataParallel, TwoRanksAverageToTheGradientOfOneProcessOnTheSameRows) {
  TempDir dir;
  auto one = run_worker(dir, "one", 1, 25 << 20);
  auto two = run_worker(dir, "two", 2, 25 << 20);
  ASSERT_EQ(one.size(), 1u);
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(one[0].world_size, 1);
  EXPECT_EQ(two[0].world_size, 2);

  // Step 0: the averaged gradient of the two halves is the full batch's.
  EXPECT_GT(one[0].first_gradient.abs().max().item<double>(), 1e-2);  // not trivially zero
  EXPECT_LE(max_abs_difference(two[0].first_gradient, one[0].first_gradient), 1e-6);
  EXPECT_TRUE(torch::equal(two[0].first_gradient, two[1].first_gradient));

  // After 20 Adam steps: the same weights as one process, identical on both ranks
  // (rank 1 started from other weights, so this also checks the broadcast).
  EXPECT_LE(max_abs_difference(two[0].final_weights, one[0].final_weights), 1e-5);
  EXPECT_TRUE(torch::equal(two[0].final_weights, two[1].final_weights));

  // One all-reduce per step for a 4.5k-parameter network in a 25 MB bucket.
  EXPECT_EQ(two[0].reduces_per_step, 1);
  EXPECT_EQ(one[0].reduces_per_step, 0);  // a single process issues none
}

TEST(DataParallel, SmallBucketsIssueOneAllReducePerBucketWithTheSameResult) {
  TempDir dir;
  // Parameters (float32): 192, 64, 4096, 64, 128, 2 values. With 1 KiB buckets
  // (256 floats): {192 + 64}, {4096}, {64 + 128 + 2} -> 3 buckets.
  auto small = run_worker(dir, "small", 2, 1024);
  auto large = run_worker(dir, "large", 2, 25 << 20);
  ASSERT_EQ(small.size(), 2u);
  ASSERT_EQ(large.size(), 2u);
  EXPECT_EQ(small[0].reduces_per_step, 3);
  EXPECT_EQ(large[0].reduces_per_step, 1);
  // Each gradient entry is the same sum of two values, however bucketed.
  EXPECT_TRUE(torch::equal(small[0].first_gradient, large[0].first_gradient));
  EXPECT_TRUE(torch::equal(small[0].final_weights, large[0].final_weights));
}

}  // namespace
}  // namespace fm
