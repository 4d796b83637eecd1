// fm-bench-divergence: the three ways to compute the MLP's exact divergence,
// timed side by side on the bench workloads' shapes (issue #5).
//   autograd   d reverse passes through one graph (fm::divergence, as cfm_ref.py)
//   batched    the d passes as one: x repeated d times, one forward and one
//              backward with a one-hot gradient per copy
//   forward    MLPImpl::velocity_and_divergence: Jacobian propagated forward
// Prints each method's milliseconds per evaluation (median of --reps) and the
// largest difference to the autograd result.
//   fm-bench-divergence [--threads N] [--reps R]
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <functional>
#include <vector>

#include "fm/common/memory.h"
#include "fm/common/random.h"
#include "fm/likelihood/likelihood.h"
#include "fm/nn/mlp.h"
#include "timing.h"

namespace {

struct Shape {
  const char* name;
  int64_t dim, hidden, depth, batch;
};

using Method = std::function<torch::Tensor(const torch::Tensor& x, const torch::Tensor& t)>;

// d passes folded into one: row block i of the repeated batch gets a one-hot
// gradient at column i, so its input gradient's column i is dv_i/dx_i.
torch::Tensor batched_divergence(fm::MLPImpl& mlp, const torch::Tensor& x, const torch::Tensor& t) {
  const int64_t batch = x.size(0), dim = x.size(1);
  auto x_rep = x.repeat({dim, 1}).requires_grad_(true);
  auto v = mlp.forward(x_rep, t.repeat({dim}));
  auto one_hot = torch::eye(dim, x.options()).repeat_interleave(batch, 0);  // (d B, d)
  auto g = torch::autograd::grad({v}, {x_rep}, {one_hot})[0];
  return (g * one_hot).sum(1).view({dim, batch}).sum(0);
}

void run_shape(const Shape& s, int reps) {
  fm::MLPOptions options;
  options.hidden = s.hidden;
  options.depth = s.depth;
  torch::manual_seed(0);
  fm::MLP mlp(s.dim, options);
  for (auto& p : mlp->parameters()) p.set_requires_grad(false);
  auto generator = fm::make_generator(1);
  auto x = torch::randn({s.batch, s.dim}, generator);
  auto t = torch::full({s.batch}, 0.5);

  fm::Velocity velocity = [&](const torch::Tensor& x, const torch::Tensor& t) {
    return mlp->forward(x, t);
  };
  Method autograd = [&](const torch::Tensor& x, const torch::Tensor& t) {
    return fm::divergence(velocity, x, t, fm::DivergenceOptions{});
  };
  Method batched = [&](const torch::Tensor& x, const torch::Tensor& t) {
    return batched_divergence(*mlp, x, t);
  };
  Method forward = [&](const torch::Tensor& x, const torch::Tensor& t) {
    torch::Tensor v, div;
    mlp->velocity_and_divergence(x, t, &v, &div);
    return div;
  };

  auto expected = autograd(x, t);
  std::printf("%s: d=%ld, %ldx%ld, batch %ld\n", s.name, s.dim, s.depth, s.hidden, s.batch);
  for (const auto& [name, method] : {std::pair<const char*, Method>{"autograd", autograd},
                                     {"batched", batched},
                                     {"forward", forward}}) {
    double diff = (method(x, t) - expected).abs().max().item<double>();
    const double ms = fm::bench::median_ms([&] { method(x, t); }, reps);
    std::printf("  %-9s %8.2f ms/eval  max |diff| %.2e\n", name, ms, diff);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Time the MLP's exact divergence three ways.", "fm-bench-divergence"};
  int threads = 2, reps = 9;
  app.add_option("--threads", threads, "Intra-op threads")->capture_default_str();
  app.add_option("--reps", reps, "Timed calls per method (median)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  fm::keep_freed_memory();  // as the programs do
  torch::set_num_threads(threads);
  run_shape({"toy2d", 2, 256, 4, 2000}, reps);
  run_shape({"tabular8", 8, 512, 3, 10000}, reps);
  return 0;
}
