#include "fm/train/evaluate.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <sstream>

#include "fm/common/error.h"
#include "fm/common/random.h"
#include "fm/data/image_transform.h"
#include "fm/likelihood/bits_per_dim.h"
#include "fm/likelihood/likelihood.h"
#include "fm/train/trainer.h"

namespace fm {
namespace {

using Clock = std::chrono::steady_clock;

std::string describe_solver(const SolverOptions& s) {
  std::ostringstream out;
  out << s.method;
  if (is_adaptive(s.method)) {
    out << " rtol=" << s.rtol << " atol=" << s.atol;
  } else {
    out << " " << s.steps << " steps";
  }
  return out.str();
}

std::string describe_estimator(const DivergenceOptions& d) {
  if (d.estimator == "exact") return "exact";
  return "hutchinson (" + d.probe + ", K=" + std::to_string(d.n_probes) + ")";
}

// Mean and standard error (ddof 1) of a 1-D float64 tensor.
std::pair<double, double> mean_and_stderr(const torch::Tensor& v) {
  double mean = v.mean().item<double>();
  double se = v.numel() > 1 ? (v.std(/*unbiased=*/true) / std::sqrt(double(v.numel()))).item<double>()
                            : 0.0;
  return {mean, se};
}

// One batch: log p of the rows in model space, plus log|det dx/dy| for images.
struct BatchResult {
  torch::Tensor log_p_model, log_det;
  SolveStats stats;
};

BatchResult evaluate_batch(const Velocity& velocity, Dataset& dataset, torch::Tensor rows,
                           const EvalOptions& options, at::Generator& generator,
                           torch::Device device) {
  BatchResult out;
  if (dataset.kind() == DataKind::kImage) {
    auto noise = torch::rand(rows.sizes(), generator, torch::kFloat64);
    auto batch = dequantize(rows, noise, dataset.image_transform());
    rows = batch.x.to(torch::kFloat32);
    out.log_det = batch.log_det_dx_dy.to(torch::kFloat64);
  }
  auto result = log_likelihood(velocity, rows.to(device), options.likelihood, generator);
  out.log_p_model = result.log_p1.to(torch::kCPU, torch::kFloat64);
  out.stats = result.stats;
  return out;
}

// The batches that rank `rank` of `world_size` evaluates (b = rank, rank + W,
// ...) and how many points they hold.
struct Shard {
  std::vector<int64_t> batches;
  int64_t points = 0;
};

Shard shard_of(int64_t n, int64_t batch_size, int rank, int world_size) {
  Shard shard;
  for (int64_t b = rank; b * batch_size < n; b += world_size) {
    shard.batches.push_back(b);
    shard.points += std::min(n, (b + 1) * batch_size) - b * batch_size;
  }
  return shard;
}

// Per-point results of the first n points: this rank's batches filled in, the
// other points left at zero. log_det only for images.
struct PointResults {
  torch::Tensor log_p, log_det;  // (n,) float64
  int64_t nfe = 0;
};

PointResults evaluate_shard(const Velocity& velocity, Dataset& dataset, const EvalOptions& options,
                            int64_t n, uint64_t eval_seed, torch::Device device,
                            const Distributed& dist) {
  auto shard = shard_of(n, options.batch_size, dist.rank(), dist.world_size());
  PointResults out;
  out.log_p = torch::zeros({n}, torch::kFloat64);
  if (dataset.kind() == DataKind::kImage) out.log_det = torch::zeros({n}, torch::kFloat64);
  int64_t done = 0;
  auto start = Clock::now(), last_log = start;
  for (int64_t b : shard.batches) {
    // A generator per batch: the noise of a point depends only on its batch.
    int64_t begin = b * options.batch_size, end = std::min(n, begin + options.batch_size);
    auto generator = make_generator(derive_seed(eval_seed, static_cast<uint64_t>(b)));
    auto batch = evaluate_batch(velocity, dataset, dataset.split_rows(options.split, begin, end),
                                options, generator, device);
    out.log_p.slice(0, begin, end).copy_(batch.log_p_model);
    if (out.log_det.defined()) out.log_det.slice(0, begin, end).copy_(batch.log_det);
    out.nfe += batch.stats.nfe;
    done += end - begin;

    // Progress: at most one line every 5 seconds, and one at the end.
    double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    if (std::chrono::duration<double>(Clock::now() - last_log).count() > 5.0 ||
        done == shard.points) {
      double rate = done / elapsed;
      spdlog::info("eval {}/{} points | {:.1f} points/s | nfe {} | ETA {:.0f} s", done,
                   shard.points, rate, batch.stats.nfe, (shard.points - done) / rate);
      last_log = Clock::now();
    }
  }
  return out;
}

}  // namespace

NllReport evaluate_nll(VelocityModel& model, Dataset& dataset, const EvalOptions& options,
                       uint64_t seed, torch::Device device, const Distributed& dist) {
  NllReport report;
  report.dataset = dataset.name();
  report.split = options.split;
  int64_t size = dataset.split_size(options.split);
  report.n = options.limit > 0 ? std::min(options.limit, size) : size;
  if (options.limit > size) {
    spdlog::warn("eval: limit {} exceeds the {} points of split '{}'; evaluating all of them",
                 options.limit, size, options.split);
  }
  if (report.n == 0) {
    throw InputError("eval: split '" + options.split + "' of dataset '" + dataset.name() +
                     "' is empty (images have a val split only with data.val_count > 0)");
  }
  report.estimator = describe_estimator(options.likelihood.divergence);
  report.solver = describe_solver(options.likelihood.solver);

  model.eval();
  for (auto& p : model.parameters()) p.set_requires_grad(false);
  Velocity velocity = [&model](const torch::Tensor& x, const torch::Tensor& t) {
    return model.forward(x, t);
  };
  // Plus the network's analytic exact divergence, if it has one, and the rows
  // per autograd pass that keep its graph's memory bounded.
  EvalOptions run = options;
  run.likelihood.divergence.rows_per_pass = model.divergence_rows_per_pass();
  run.likelihood.exact_divergence = [&model](const torch::Tensor& x, const torch::Tensor& t,
                                             torch::Tensor* v, torch::Tensor* div) {
    return model.velocity_and_divergence(x, t, v, div);
  };
  int64_t n_batches = (report.n + options.batch_size - 1) / options.batch_size;
  if (dist.is_main() && n_batches < dist.world_size()) {
    spdlog::warn(
        "eval: {} point(s) make {} batch(es) of eval.batch_size={}, fewer than the {} "
        "processes, so some will idle; --batch-size {} would give each one a batch",
        report.n, n_batches, options.batch_size, dist.world_size(),
        (report.n + dist.world_size() - 1) / dist.world_size());
  }
  auto start = Clock::now();
  auto points = evaluate_shard(velocity, dataset, run, report.n, derive_seed(seed, kEvalStream),
                               device, dist);

  // Gather: each point is non-zero on one rank only, so the sums are its value.
  auto nfe = torch::full({1}, points.nfe, torch::kInt64);
  dist.all_reduce_sum(points.log_p);
  if (points.log_det.defined()) dist.all_reduce_sum(points.log_det);
  dist.all_reduce_sum(nfe);
  report.nfe = nfe.item<int64_t>();
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  report.nfe_per_batch = static_cast<double>(report.nfe) / n_batches;

  std::tie(report.nll_nats, report.nll_stderr) = mean_and_stderr(-points.log_p);
  if (dataset.kind() == DataKind::kImage) {
    report.units = "model";
    int64_t dims = 1;
    for (auto d : dataset.example_shape()) dims *= d;
    auto bpd = bits_per_dim(points.log_p, points.log_det, dims);
    double bpd_mean, bpd_se;
    std::tie(bpd_mean, bpd_se) = mean_and_stderr(bpd.bits_per_dim);
    report.bits_per_dim = bpd_mean, report.bits_per_dim_stderr = bpd_se;
    report.nll_pixel_nats = bpd.nll_pixel_nats.mean().item<double>();
  } else if (dataset.kind() == DataKind::kTable) {
    report.units = "standardized";
    report.nll_original_nats = report.nll_nats + dataset.standardizer().sum_log_std();
  } else {
    report.units = "data";
  }
  return report;
}

nlohmann::json NllReport::to_json() const {
  nlohmann::json j = {{"dataset", dataset}, {"split", split},         {"n", n},
                      {"nll_nats", nll_nats}, {"nll_stderr", nll_stderr}, {"units", units},
                      {"estimator", estimator}, {"solver", solver},   {"nfe", nfe},
                      {"nfe_per_batch", nfe_per_batch}, {"seconds", seconds}};
  if (nll_original_nats) j["nll_original_nats"] = *nll_original_nats;
  if (bits_per_dim) {
    j["bits_per_dim"] = *bits_per_dim;
    j["bits_per_dim_stderr"] = *bits_per_dim_stderr;
    j["nll_pixel_nats"] = *nll_pixel_nats;
  }
  return j;
}

std::string NllReport::summary() const {
  std::ostringstream out;
  out.precision(4);
  out << std::fixed << dataset << " " << split << " n=" << n << ": ";
  if (bits_per_dim) {
    out << *bits_per_dim << " +- " << *bits_per_dim_stderr << " bits/dim (NLL " << nll_nats
        << " nats in model space)";
  } else {
    out << "NLL " << nll_nats << " +- " << nll_stderr << " nats (" << units << ")";
    if (nll_original_nats) out << ", " << *nll_original_nats << " nats in original units";
  }
  out << " | " << estimator << ", " << solver << ", nfe " << nfe << ", " << seconds << " s";
  return out.str();
}

}  // namespace fm
