#include "fm/train/generate.h"

#include "fm/common/error.h"

namespace fm {

GeneratedSamples generate_samples(VelocityModel& model, const std::vector<int64_t>& example_shape,
                                  const GenerateOptions& options, at::Generator& generator,
                                  torch::Device device) {
  std::vector<int64_t> shape = {options.num};
  shape.insert(shape.end(), example_shape.begin(), example_shape.end());
  auto x_0 = torch::randn(shape, generator, torch::kFloat32);

  torch::NoGradGuard no_grad;
  model.eval();
  SolverOptions solver = options.solver;
  solver.t0 = 0.0, solver.t1 = 1.0;
  VectorField field = [&model](double t, const torch::Tensor& x) {
    return model.forward(x, torch::full({x.size(0)}, t, x.options()));
  };

  GeneratedSamples out;
  std::vector<torch::Tensor> batches, paths;
  for (int64_t begin = 0; begin < options.num; begin += options.batch_size) {
    auto x = x_0.slice(0, begin, std::min(options.num, begin + options.batch_size)).to(device);
    std::vector<torch::Tensor> path;
    if (options.trajectory) path.push_back(x.cpu());
    StepObserver observer = nullptr;
    if (options.trajectory) observer = [&path](double, const torch::Tensor& s) {
      path.push_back(s.cpu());
    };
    auto result = solve_ode(field, x, solver, observer);
    batches.push_back(result.x.cpu());
    if (options.trajectory) paths.push_back(torch::stack(path));
    out.stats.nfe += result.stats.nfe;
    out.stats.n_accepted += result.stats.n_accepted;
    out.stats.n_rejected += result.stats.n_rejected;
  }
  out.x_1 = torch::cat(batches);
  if (options.trajectory) {
    // Adaptive solves take different steps per batch; a trajectory needs one grid.
    for (const auto& p : paths) {
      if (p.size(0) != paths[0].size(0)) {
        throw InputError("fm-sample: --trajectory with an adaptive solver needs all samples in "
                         "one batch (set sample.batch_size >= --num)");
      }
    }
    out.trajectory = torch::cat(paths, 1);
  }
  return out;
}

}  // namespace fm
