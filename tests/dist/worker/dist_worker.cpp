// A rank of the data-parallel known-answer test (tests/dist), started by the
// test once without the torchrun variables and once as each of two ranks:
//   fm_dist_worker OUT_PREFIX BUCKET_BYTES TIMEOUT_S
// It trains a small MLP for kSteps Adam steps on a fixed global batch of
// kGlobalBatch points per step; a process of a world of W takes rows
// [r * kGlobalBatch / W, (r + 1) * kGlobalBatch / W) of every step's batch.
// Rank r starts from weights seeded by r, so only broadcast_parameters makes
// the ranks agree. Writes OUT_PREFIX.rank<r>.pt holding three tensors: the
// averaged gradient of step 0 (all parameters, flattened), the weights after
// kSteps steps (flattened), and {gradient all-reduces per step, world size}.
#include <torch/torch.h>

#include <cstdlib>
#include <iostream>
#include <string>

#include "fm/common/random.h"
#include "fm/dist/process_group.h"

namespace {

constexpr int64_t kSteps = 20;
constexpr int64_t kGlobalBatch = 128;

torch::nn::Sequential make_network(uint64_t seed) {
  torch::manual_seed(seed);  // NOTE: initialisation only; data comes from own generators
  return torch::nn::Sequential(torch::nn::Linear(3, 64), torch::nn::SiLU(),
                               torch::nn::Linear(64, 64), torch::nn::SiLU(),
                               torch::nn::Linear(64, 2));
}

torch::Tensor flat_of(const std::vector<torch::Tensor>& tensors, bool grads) {
  std::vector<torch::Tensor> flat;
  for (const auto& t : tensors) flat.push_back((grads ? t.grad() : t).detach().reshape({-1}));
  return torch::cat(flat);
}

// This rank's share of step `step`'s global batch: inputs (B, 3), targets (B, 2).
std::pair<torch::Tensor, torch::Tensor> share_of_batch(int64_t step, const fm::Distributed& dist) {
  auto generator = fm::make_generator(fm::derive_seed(1234, static_cast<uint64_t>(step)));
  auto x = torch::randn({kGlobalBatch, 3}, generator, torch::kFloat32);
  auto y = torch::sin(x.narrow(1, 0, 2) * 2.0) + x.narrow(1, 2, 1);
  int64_t share = kGlobalBatch / dist.world_size();
  return {x.narrow(0, dist.rank() * share, share), y.narrow(0, dist.rank() * share, share)};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: fm_dist_worker OUT_PREFIX BUCKET_BYTES TIMEOUT_S\n";
    return 2;
  }
  try {
    torch::set_num_threads(1);
    auto timeout = std::chrono::milliseconds(std::atoll(argv[3]) * 1000);
    auto dist = fm::Distributed::from_environment(timeout);
    auto net = make_network(100 + static_cast<uint64_t>(dist.rank()));
    dist.broadcast_parameters(*net);
    torch::optim::Adam adam(net->parameters(), torch::optim::AdamOptions(1e-2));

    torch::Tensor first_gradient;
    int64_t before = dist.collectives_issued();
    for (int64_t step = 0; step < kSteps; ++step) {
      auto [x, y] = share_of_batch(step, dist);
      adam.zero_grad();
      torch::mse_loss(net->forward(x), y).backward();
      dist.all_reduce_gradients(net->parameters(), std::atoll(argv[2]));
      if (step == 0) first_gradient = flat_of(net->parameters(), true);
      adam.step();
    }
    int64_t per_step = (dist.collectives_issued() - before) / kSteps;

    std::vector<torch::Tensor> out{first_gradient, flat_of(net->parameters(), false),
                                   torch::tensor({per_step, int64_t{dist.world_size()}})};
    torch::save(out, std::string(argv[1]) + ".rank" + std::to_string(dist.rank()) + ".pt");
    dist.barrier();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "fm_dist_worker: error: " << e.what() << "\n";
    return 1;
  }
}
