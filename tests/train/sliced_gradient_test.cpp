// The training step's forward and backward pass in row slices gives the
// whole batch's loss and gradient (issue #5).
#include "fm/train/sliced_gradient.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <set>

#include "fm/common/random.h"
#include "fm/common/row_slices.h"
#include "fm/nn/mlp.h"
#include "fm/nn/unet.h"
#include "fm/paths/path.h"
#include "support/float64_mlp.h"
#include "support/thread_count.h"

namespace fm {
namespace {

using test_support::ThreadCount;

MLP small_mlp() {
  MLPOptions o;
  o.hidden = 24;
  o.depth = 3;
  return test_support::float64_mlp(3, o, 3);
}

struct Batch {
  torch::Tensor x, t, u;
};

Batch batch(int64_t rows) {
  auto g = make_generator(11);
  return {torch::randn({rows, 3}, g, torch::kFloat64), torch::rand({rows}, g, torch::kFloat64),
          torch::randn({rows, 3}, g, torch::kFloat64)};
}

// The toolkit's own kernels use at::parallel_for, a header template that
// runs on one thread unless the code calling it is compiled with OpenMP: the
// shared row slices (fm/common/row_slices.h) must reach two threads, and
// cover every row once.
TEST(SlicedGradient, ToolkitRowSlicesRunOnSeveralThreads) {
  ThreadCount two(2);
  ASSERT_EQ(row_slice_count(101, 32, torch::kCPU), 2);
  std::set<int> ids;
  std::vector<std::pair<int64_t, int64_t>> ranges(2);
  std::mutex mutex;
  run_row_slices(101, 2, [&](int64_t s, int64_t begin, int64_t count) {
    std::lock_guard<std::mutex> lock(mutex);
    ids.insert(at::get_thread_num());
    ranges[s] = {begin, count};
  });
  EXPECT_EQ(ids, (std::set<int>{0, 1}));
  EXPECT_EQ(ranges, (std::vector<std::pair<int64_t, int64_t>>{{0, 50}, {50, 51}}));
}

TEST(SlicedGradient, SlicesOnlyWhereAllowed) {
  auto mlp = small_mlp();
  {
    ThreadCount two(2);
    EXPECT_EQ(gradient_slices(*mlp, 64, torch::kCPU), 2);
    EXPECT_EQ(gradient_slices(*mlp, 2 * kMinRowsPerSlice - 1, torch::kCPU), 1);
    UNet unet(std::vector<int64_t>{1, 8, 8}, UNetOptions{});
    EXPECT_EQ(gradient_slices(*unet, 64, torch::kCPU), 1);  // oneDNN convolutions
  }
  ThreadCount one(1);
  EXPECT_EQ(gradient_slices(*mlp, 64, torch::kCPU), 1);
}

// float64, so that any difference beyond the order of additions shows.
TEST(SlicedGradient, MatchesWholeBatchLossAndGradient) {
  ThreadCount two(2);
  auto mlp = small_mlp();
  const auto b = batch(101);  // uneven slices: 50 and 51 rows
  ASSERT_EQ(gradient_slices(*mlp, 101, torch::kCPU), 2);

  auto whole = flow_matching_loss(mlp->forward(b.x, b.t), b.u);
  whole.backward();
  std::vector<torch::Tensor> expected;
  for (auto& p : mlp->parameters()) expected.push_back(p.grad().clone()), p.mutable_grad() = torch::Tensor();

  auto loss = flow_matching_backward(*mlp, b.x, b.t, b.u);
  EXPECT_FALSE(loss.requires_grad());
  EXPECT_NEAR(loss.item<double>(), whole.item<double>(), 1e-13);
  const auto params = mlp->parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    ASSERT_TRUE(params[i].grad().defined());
    EXPECT_LT((params[i].grad() - expected[i]).abs().max().item<double>(), 1e-13) << i;
  }
}

// Three slices of 33, 33 and 34 rows on three threads.
TEST(SlicedGradient, MatchesWholeBatchOnThreeThreads) {
  ThreadCount three(3);
  auto mlp = small_mlp();
  const auto b = batch(100);
  ASSERT_EQ(gradient_slices(*mlp, 100, torch::kCPU), 3);
  auto whole = flow_matching_loss(mlp->forward(b.x, b.t), b.u);
  const auto params = mlp->parameters();
  const auto expected = torch::autograd::grad({whole}, params);
  auto loss = flow_matching_backward(*mlp, b.x, b.t, b.u);
  EXPECT_NEAR(loss.item<double>(), whole.item<double>(), 1e-13);
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_LT((params[i].grad() - expected[i]).abs().max().item<double>(), 1e-13) << i;
  }
}

// As backward() does: into gradients already there, in place (FusedAdam holds
// views of them).
TEST(SlicedGradient, AddsToExistingGradientsInPlace) {
  ThreadCount two(2);
  auto mlp = small_mlp();
  const auto b = batch(64);
  flow_matching_backward(*mlp, b.x, b.t, b.u);
  std::vector<torch::Tensor> once, storage;
  for (auto& p : mlp->parameters()) once.push_back(p.grad().clone()), storage.push_back(p.grad());

  flow_matching_backward(*mlp, b.x, b.t, b.u);
  const auto params = mlp->parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_TRUE(params[i].grad().is_same(storage[i])) << i;
    EXPECT_LT((params[i].grad() - 2 * once[i]).abs().max().item<double>(), 1e-13) << i;
  }
}

// Frozen parameters take autograd's path (the hand-written one gives every
// parameter a gradient), with the same values for the others.
TEST(SlicedGradient, FrozenParametersGetNoGradient) {
  ThreadCount two(2);
  auto mlp = small_mlp();
  const auto b = batch(64);
  auto params = mlp->parameters();
  params[0].set_requires_grad(false);
  const std::vector<torch::Tensor> trainable(params.begin() + 1, params.end());
  const auto expected =
      torch::autograd::grad({flow_matching_loss(mlp->forward(b.x, b.t), b.u)}, trainable);
  flow_matching_backward(*mlp, b.x, b.t, b.u);
  EXPECT_FALSE(params[0].grad().defined());
  for (size_t i = 0; i < trainable.size(); ++i) {
    ASSERT_TRUE(trainable[i].grad().defined()) << i;
    EXPECT_LT((trainable[i].grad() - expected[i]).abs().max().item<double>(), 1e-13) << i;
  }
}

// An MLP that counts the calls of its hand-written backpropagation.
class CountingMLP : public MLPImpl {
 public:
  using MLPImpl::MLPImpl;
  bool regression_gradient(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& u,
                           double scale, std::vector<torch::Tensor>* grads,
                           torch::Tensor* loss) override {
    ++calls;
    return MLPImpl::regression_gradient(x, t, u, scale, grads, loss);
  }
  std::atomic<int> calls{0};
};

std::shared_ptr<CountingMLP> counting_mlp() {
  MLPOptions o;
  o.hidden = 24;
  o.depth = 3;
  torch::manual_seed(3);
  auto mlp = std::make_shared<CountingMLP>(3, o);
  mlp->to(torch::kFloat64);
  return mlp;
}

// The MLP's slices backpropagate by hand, one call each; frozen parameters
// send it back to autograd.
TEST(SlicedGradient, MLPSlicesBackpropagateByHand) {
  ThreadCount two(2);
  auto mlp = counting_mlp();
  const auto b = batch(101);
  flow_matching_backward(*mlp, b.x, b.t, b.u);
  EXPECT_EQ(mlp->calls, 2);
  mlp->parameters()[0].set_requires_grad(false);
  flow_matching_backward(*mlp, b.x, b.t, b.u);
  EXPECT_EQ(mlp->calls, 2);
}

// One slice (one thread): the whole batch by hand, equal to autograd's
// gradient, and added in place on the next call.
TEST(SlicedGradient, OneSliceBackpropagatesTheWholeBatchByHand) {
  ThreadCount one(1);
  auto mlp = counting_mlp();
  const auto b = batch(64);
  ASSERT_EQ(gradient_slices(*mlp, 64, torch::kCPU), 1);
  const auto params = mlp->parameters();
  auto whole = flow_matching_loss(mlp->forward(b.x, b.t), b.u);
  const auto expected = torch::autograd::grad({whole}, params);

  auto loss = flow_matching_backward(*mlp, b.x, b.t, b.u);
  EXPECT_EQ(mlp->calls, 1);
  EXPECT_FALSE(loss.requires_grad());
  EXPECT_NEAR(loss.item<double>(), whole.item<double>(), 1e-13);
  std::vector<torch::Tensor> storage;
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_LT((params[i].grad() - expected[i]).abs().max().item<double>(), 1e-13) << i;
    storage.push_back(params[i].grad());
  }
  flow_matching_backward(*mlp, b.x, b.t, b.u);
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_TRUE(params[i].grad().is_same(storage[i])) << i;
    EXPECT_LT((params[i].grad() - 2 * expected[i]).abs().max().item<double>(), 1e-13) << i;
  }
}

}  // namespace
}  // namespace fm
