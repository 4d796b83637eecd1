// FusedAdam gives torch::optim::Adam's iterates and resumes from checkpoints
// like it (issue #5).
#include "fm/train/fused_adam.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "fm/common/random.h"
#include "fm/train/checkpoint.h"
#include "support/thread_count.h"

namespace fm {
namespace {

// A few parameter tensors of different shapes (one channels-last conv weight),
// float64 so that only the order of operations could make a difference.
class SmallModel : public VelocityModel {
 public:
  SmallModel() {
    torch::manual_seed(0);
    a_ = register_parameter("a", torch::randn({3, 4}, torch::kFloat64));
    b_ = register_parameter("b", torch::randn({4}, torch::kFloat64));
    c_ = register_parameter(
        "c",
        torch::randn({2, 3, 3, 3}, torch::kFloat64).contiguous(torch::MemoryFormat::ChannelsLast));
  }
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor&) override {
    return torch::tanh(x.matmul(a_) + b_).sum() * c_.square().sum();
  }
  std::string describe() const override { return "small"; }
  torch::Tensor a_, b_, c_;
};

torch::optim::AdamOptions options(double weight_decay) {
  return torch::optim::AdamOptions(0.05).betas({0.8, 0.99}).eps(1e-8).weight_decay(weight_decay);
}

void take_step(SmallModel& model, torch::optim::Optimizer& optimizer, int step) {
  optimizer.zero_grad();
  auto x = torch::randn({5, 3}, make_generator(step), torch::kFloat64);
  model.forward(x, torch::Tensor()).backward();
  optimizer.step();
}

double max_difference(SmallModel& a, SmallModel& b) {
  double d = 0;
  auto pa = a.parameters(), pb = b.parameters();
  for (size_t i = 0; i < pa.size(); ++i)
    d = std::max(d, (pa[i] - pb[i]).abs().max().item<double>());
  return d;
}

TEST(FusedAdam, IteratesEqualTorchAdamWithAndWithoutWeightDecay) {
  for (double weight_decay : {0.0, 0.1}) {
    SmallModel fused_model, torch_model;
    FusedAdam fused(fused_model.parameters(), options(weight_decay));
    torch::optim::Adam reference(torch_model.parameters(), options(weight_decay));
    for (int step = 0; step < 6; ++step) {
      take_step(fused_model, fused, step);
      take_step(torch_model, reference, step);
    }
    // Elementwise kernels on float64: the same operations per element, so only
    // a vectorised versus a scalar loop tail could differ (1 ulp): 1e-14.
    EXPECT_LT(max_difference(fused_model, torch_model), 1e-14) << weight_decay;
    // The parameters keep their layout, and stay where the optimizer put them.
    EXPECT_TRUE(fused_model.c_.is_contiguous(torch::MemoryFormat::ChannelsLast));
  }
}

// Large enough buffers that the update is split over two threads: every
// element must still be updated exactly once. float32 runs the loop compiled
// for the machine's widest vectors (fm/common/vector_clones.h), float64 the
// baseline one; torch's Adam may fuse a multiply-add where the toolkit rounds
// twice, so float32 agrees to a few ulp.
TEST(FusedAdam, IteratesEqualTorchAdamOnTwoThreads) {
  test_support::ThreadCount two(2);
  for (auto dtype : {torch::kFloat64, torch::kFloat32}) {
    auto start = torch::randn({3, 40000}, make_generator(5), dtype);
    auto fused_p = start.clone().requires_grad_(), torch_p = start.clone().requires_grad_();
    FusedAdam fused({fused_p}, options(0.0));
    torch::optim::Adam reference({torch_p}, options(0.0));
    for (int step = 0; step < 4; ++step) {
      auto g = torch::randn(start.sizes(), make_generator(step), dtype);
      for (auto* optimizer : std::vector<torch::optim::Optimizer*>{&fused, &reference}) {
        optimizer->zero_grad();
        auto& p = optimizer == &fused ? fused_p : torch_p;
        (p * g).sum().backward();
        optimizer->step();
      }
    }
    const double tolerance = dtype == torch::kFloat64 ? 1e-14 : 2e-6;
    EXPECT_LT((fused_p - torch_p).abs().max().item<double>(), tolerance) << dtype;
    EXPECT_GT((fused_p - start).abs().min().item<double>(), 0.0) << dtype;  // every element moved
  }
}

TEST(FusedAdam, ResumesFromACheckpointBitForBit) {
  SmallModel uninterrupted_model, first_model, resumed_model;
  FusedAdam uninterrupted(uninterrupted_model.parameters(), options(0.0));
  for (int step = 0; step < 5; ++step) take_step(uninterrupted_model, uninterrupted, step);

  FusedAdam first(first_model.parameters(), options(0.0));
  for (int step = 0; step < 3; ++step) take_step(first_model, first, step);
  CheckpointState saved;
  saved.meta.config = {{"name", "fused"}};
  saved.meta.example_shape = {3};
  saved.model = &first_model;
  saved.optimizer = &first;
  auto path = (std::filesystem::path(FM_BINARY_DIR) / "fused_adam_checkpoint.pt").string();
  save_checkpoint(path, saved);

  // A fresh model and optimizer: loading replaces every tensor the buffers held.
  FusedAdam resumed(resumed_model.parameters(), options(0.0));
  take_step(resumed_model, resumed, 100);  // builds buffers that the load then abandons
  CheckpointState loaded;
  loaded.model = &resumed_model;
  loaded.optimizer = &resumed;
  load_checkpoint(path, loaded);
  EXPECT_EQ(max_difference(resumed_model, first_model), 0.0);
  for (int step = 3; step < 5; ++step) take_step(resumed_model, resumed, step);
  EXPECT_EQ(max_difference(resumed_model, uninterrupted_model), 0.0);
}

TEST(FusedAdam, FallsBackToTorchAdamForAmsgrad) {
  SmallModel fused_model, torch_model;
  FusedAdam fused(fused_model.parameters(), options(0.0).amsgrad(true));
  torch::optim::Adam reference(torch_model.parameters(), options(0.0).amsgrad(true));
  for (int step = 0; step < 3; ++step) {
    take_step(fused_model, fused, step);
    take_step(torch_model, reference, step);
  }
  EXPECT_EQ(max_difference(fused_model, torch_model), 0.0);  // the very same code
}

}  // namespace
}  // namespace fm
