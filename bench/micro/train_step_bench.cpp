// fm-bench-train-step: one MLP training step (forward, loss, backward) on the
// bench workloads' shapes, with the batch handled two ways (issue #5):
//   whole   one autograd graph over the batch; every operation spreads its
//           work over the intra-op threads (what plain PyTorch does)
//   split   the batch cut into one slice per thread, each slice's forward and
//           backward run start to end on its own thread with single-threaded
//           kernels, the slices' gradients summed in a fixed order
// Prints milliseconds per step (median of --reps) and the largest gradient
// difference between the two.
//   fm-bench-train-step [--threads N] [--reps R]
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <functional>
#include <vector>

#include "fm/common/memory.h"
#include "fm/common/random.h"
#include "timing.h"
#include "fm/nn/mlp.h"

namespace {

struct Shape {
  const char* name;
  int64_t dim, hidden, depth, batch;
};

using Grads = std::vector<torch::Tensor>;

Grads whole_batch(fm::MLPImpl& mlp, const torch::Tensor& x, const torch::Tensor& t,
                  const torch::Tensor& u) {
  auto loss = (mlp.forward(x, t) - u).square().mean();
  return torch::autograd::grad({loss}, mlp.parameters());
}

Grads split_batch(fm::MLPImpl& mlp, const torch::Tensor& x, const torch::Tensor& t,
                  const torch::Tensor& u) {
  const int64_t slices = at::get_num_threads(), batch = x.size(0);
  const auto params = mlp.parameters();
  std::vector<Grads> partial(slices);
  at::parallel_for(0, slices, 1, [&](int64_t begin, int64_t end) {
    for (int64_t s = begin; s < end; ++s) {
      const int64_t lo = batch * s / slices, n = batch * (s + 1) / slices - lo;
      auto v = mlp.forward(x.narrow(0, lo, n), t.narrow(0, lo, n));
      // Each slice's share of the batch mean.
      auto loss = (v - u.narrow(0, lo, n)).square().sum() / static_cast<double>(u.numel());
      partial[s] = torch::autograd::grad({loss}, params);
    }
  });
  for (int64_t s = 1; s < slices; ++s) {
    for (size_t i = 0; i < params.size(); ++i) partial[0][i].add_(partial[s][i]);
  }
  return partial[0];
}

void run_shape(const Shape& s, int reps) {
  fm::MLPOptions options;
  options.hidden = s.hidden;
  options.depth = s.depth;
  torch::manual_seed(0);
  fm::MLP mlp(s.dim, options);
  auto generator = fm::make_generator(1);
  auto x = torch::randn({s.batch, s.dim}, generator);
  auto t = torch::rand({s.batch}, generator);
  auto u = torch::randn({s.batch, s.dim}, generator);

  auto a = whole_batch(*mlp, x, t, u), b = split_batch(*mlp, x, t, u);
  double diff = 0;
  for (size_t i = 0; i < a.size(); ++i)
    diff = std::max(diff, (a[i] - b[i]).abs().max().item<double>());
  double whole = fm::bench::median_ms([&] { whole_batch(*mlp, x, t, u); }, reps);
  double split = fm::bench::median_ms([&] { split_batch(*mlp, x, t, u); }, reps);
  std::printf(
      "%s: batch %ld, %ldx%ld: whole %.2f ms, split %.2f ms (x%.2f), max |grad diff| %.1e\n",
      s.name, s.batch, s.depth, s.hidden, whole, split, whole / split, diff);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Time an MLP training step with the batch whole or split by thread.",
               "fm-bench-train-step"};
  int threads = 2, reps = 31;
  app.add_option("--threads", threads, "Intra-op threads")->capture_default_str();
  app.add_option("--reps", reps, "Timed steps per variant (median)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  fm::keep_freed_memory();  // as the programs do
  torch::set_num_threads(threads);
  run_shape({"toy2d", 2, 256, 4, 512}, reps);
  run_shape({"tabular8", 8, 512, 3, 1024}, reps);
  return 0;
}
