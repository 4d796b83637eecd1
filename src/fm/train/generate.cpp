#include "fm/train/generate.h"

#include <c10/core/InferenceMode.h>

#include <chrono>

#include "fm/common/error.h"

namespace fm {
namespace {

using Clock = std::chrono::steady_clock;

// Integrates each batch of x_0 (CPU) on `device`; returns the end states (and
// the paths when asked), on the CPU.
struct BatchSolves {
  std::vector<torch::Tensor> ends, paths;
  SolveStats stats;
};

BatchSolves solve_batches(const VectorField& field, const torch::Tensor& x_0,
                          const GenerateOptions& options, const SolverOptions& solver,
                          torch::Device device) {
  BatchSolves out;
  for (int64_t begin = 0; begin < options.num; begin += options.batch_size) {
    auto x = x_0.slice(0, begin, std::min(options.num, begin + options.batch_size)).to(device);
    std::vector<torch::Tensor> path;
    if (options.trajectory) path.push_back(x.cpu());
    StepObserver observer = nullptr;
    if (options.trajectory) observer = [&path](double, const torch::Tensor& s) {
      path.push_back(s.cpu());
    };
    auto result = solve_ode(field, x, solver, observer);
    out.ends.push_back(result.x.cpu());
    if (options.trajectory) out.paths.push_back(torch::stack(path));
    out.stats.nfe += result.stats.nfe;
    out.stats.n_accepted += result.stats.n_accepted;
    out.stats.n_rejected += result.stats.n_rejected;
  }
  return out;
}

}  // namespace

GeneratedSamples generate_samples(VelocityModel& model, const std::vector<int64_t>& example_shape,
                                  const GenerateOptions& options, at::Generator& generator,
                                  torch::Device device) {
  std::vector<int64_t> shape = {options.num};
  shape.insert(shape.end(), example_shape.begin(), example_shape.end());
  auto x_0 = torch::randn(shape, generator, torch::kFloat32);

  model.eval();
  SolverOptions solver = options.solver;
  solver.t0 = 0.0, solver.t1 = 1.0;
  VectorField field = [&model](double t, const torch::Tensor& x) {
    return model.forward(x, torch::full({x.size(0)}, t, x.options()));
  };

  // Integrate without any autograd bookkeeping; the results leave the scope
  // as inference tensors and are turned into ordinary ones by the cat below.
  GeneratedSamples out;
  BatchSolves solved;
  auto start = Clock::now();
  {
    c10::InferenceMode inference;
    solved = solve_batches(field, x_0, options, solver, device);
  }
  out.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  out.stats = solved.stats;
  out.x_1 = torch::cat(solved.ends);
  if (options.trajectory) {
    // Adaptive solves take different steps per batch; a trajectory needs one grid.
    for (const auto& p : solved.paths) {
      if (p.size(0) != solved.paths[0].size(0)) {
        throw InputError("fm-sample: --trajectory with an adaptive solver needs all samples in "
                         "one batch (set sample.batch_size >= --num)");
      }
    }
    out.trajectory = torch::cat(solved.paths, 1);
  }
  return out;
}

}  // namespace fm
