#include "fm/train/trainer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>

#include "fm/common/error.h"
#include "fm/common/random.h"
#include "fm/config/json_diff.h"
#include "fm/io/atomic_file.h"
#include "fm/paths/path.h"
#include "fm/train/checkpoint.h"
#include "fm/train/ema.h"
#include "fm/train/fused_adam.h"
#include "fm/train/metrics_log.h"
#include "fm/train/model_builder.h"
#include "fm/train/output_lock.h"
#include "fm/train/schedule.h"
#include "fm/train/sliced_gradient.h"

namespace fm {
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimizerOptions& o,
                                                        std::vector<torch::Tensor> params) {
  if (o.type == "adamw") {
    return std::make_unique<torch::optim::AdamW>(
        params, torch::optim::AdamWOptions(o.lr)
                    .betas({o.beta1, o.beta2})
                    .eps(o.eps)
                    .weight_decay(o.weight_decay));
  }
  // Adam's update for all parameter tensors at once (same options and state).
  return std::make_unique<FusedAdam>(params, torch::optim::AdamOptions(o.lr)
                                                 .betas({o.beta1, o.beta2})
                                                 .eps(o.eps)
                                                 .weight_decay(o.weight_decay));
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

// Rank r's share of the global batch; the split must be even so that the mean
// of the ranks' mean losses is the global batch's mean loss.
int64_t rank_batch_size(const TrainOptions& train, const Distributed& dist) {
  if (train.batch_size % dist.world_size() != 0) {
    throw InputError(fmt::format(
        "train: key 'train.batch_size' = {} is not divisible by WORLD_SIZE = {}; the global batch "
        "is split evenly across the processes, so choose a multiple of {}",
        train.batch_size, dist.world_size(), dist.world_size()));
  }
  return train.batch_size / dist.world_size();
}

// Single-process runs keep the training stream; rank r of a multi-process run
// draws from a stream of its own derived from it.
uint64_t train_seed(uint64_t seed, const Distributed& dist) {
  uint64_t stream = derive_seed(seed, kTrainStream);
  return dist.is_distributed() ? derive_seed(stream, static_cast<uint64_t>(dist.rank())) : stream;
}

// The mean over ranks of a scalar (float64 on the CPU, whatever `value` is).
double mean_over_ranks(const Distributed& dist, const torch::Tensor& value) {
  auto v = value.detach().to(torch::kCPU, torch::kFloat64).reshape({1});
  dist.all_reduce_sum(v);
  return v.item<double>() / dist.world_size();
}

std::string format_duration(double seconds) {
  auto s = static_cast<int64_t>(seconds + 0.5);
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%d:%02d:%02d", static_cast<int>(s / 3600),
                static_cast<int>(s / 60 % 60), static_cast<int>(s % 60));
  return buffer;
}

}  // namespace

struct Trainer::State {
  RunOptions options;
  Dataset& dataset;
  std::string out_dir;
  bool resume;
  Distributed dist;
  int64_t rank_batch;  // this rank's share of train.batch_size
  torch::Device device = torch::kCPU;
  VelocityModelPtr model;
  std::unique_ptr<WeightEma> ema;
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  at::Generator generator;
  int64_t step = 0;
  double best_val_loss = INFINITY;
  // Fixed validation batch: x_1, x_0, t drawn once so losses compare across steps.
  torch::Tensor val_x1, val_x0, val_t;

  State(RunOptions o, Dataset& d, std::string dir, bool r, const Distributed& ds)
      : options(std::move(o)), dataset(d), out_dir(std::move(dir)), resume(r), dist(ds),
        rank_batch(rank_batch_size(options.train, dist)),
        generator(make_generator(train_seed(options.seed, dist))) {}

  std::string checkpoint_path(const std::string& name) const {
    return (fs::path(out_dir) / "checkpoints" / (name + ".pt")).string();
  }
  VelocityModel& eval_model() { return ema ? *ema->shadow() : *model; }

  void build();
  void restore();
  void restore_generator(const CheckpointState& state, const std::string& path);
  void prepare_validation();
  // One optimisation step; returns the mean loss over the ranks. Sets
  // *grad_norm (before clipping) when clipping is on or want_norm is true.
  double train_step(double lr, bool want_norm, double* grad_norm);
  double validation_loss();
  void save(const std::string& name);
};

void Trainer::State::build() {
  device = run_device(options);
  model = build_velocity_model(options, dataset.example_shape());
  dist.broadcast_parameters(*model);  // before the EMA copies them
  if (options.train.ema_decay > 0) {
    ema = std::make_unique<WeightEma>(
        *model, build_velocity_model(options, dataset.example_shape()), options.train.ema_decay);
  }
  optimizer = make_optimizer(options.train.optimizer, model->parameters());
  spdlog::info("model: {}", model->describe());
}

void Trainer::State::restore() {
  auto path = checkpoint_path("latest");
  auto meta = read_checkpoint_meta(path);
  // Another model or dataset is the likeliest mismatch and the one to name
  // first; the free-text comment may differ.
  std::string difference;
  for (const char* section : {"model", "data"}) {
    if (difference.empty() && meta.config.contains(section) && options.resolved.contains(section)) {
      difference = first_difference(meta.config[section], options.resolved[section], {}, section);
    }
  }
  if (difference.empty()) {
    difference = first_difference(meta.config, options.resolved, {"train.steps", "comment"});
  }
  if (!difference.empty()) {
    auto value_at = [&](const nlohmann::json& config) {
      std::string pointer = "/" + difference;
      std::replace(pointer.begin(), pointer.end(), '.', '/');
      const nlohmann::json::json_pointer at(pointer);
      return config.contains(at) ? config.at(at).dump() : std::string("(not set)");
    };
    throw InputError("--resume: config key '" + difference + "' is " + value_at(options.resolved) +
                     " here but " + value_at(meta.config) + " in '" + path +
                     "'; only train.steps may change when resuming");
  }
  if (meta.step > options.train.steps) {
    throw InputError("--resume: '" + path + "' is at step " + std::to_string(meta.step) +
                     ", past train.steps = " + std::to_string(options.train.steps));
  }
  CheckpointState state{meta, model.get(), ema ? ema->shadow().get() : nullptr, optimizer.get(),
                        torch::Tensor(), torch::Tensor()};
  load_checkpoint(path, state);
  restore_generator(state, path);
  step = meta.step;
  best_val_loss = meta.best_val_loss;
  spdlog::info("resumed from {} at step {}", path, step);
}

void Trainer::State::restore_generator(const CheckpointState& state, const std::string& path) {
  // Each rank continues its own stream, so the world size must not change.
  const auto& ranks = state.rank_generator_states;
  int64_t saved = ranks.defined() ? ranks.size(0) : 1;
  if (saved != dist.world_size()) {
    throw InputError(fmt::format(
        "--resume: '{}' was written by a run of {} process(es); resume it with the same number "
        "(WORLD_SIZE = {} now)",
        path, saved, dist.world_size()));
  }
  if (ranks.defined()) {
    generator.set_state(ranks[dist.rank()].contiguous());
  } else if (state.generator_state.defined()) {
    generator.set_state(state.generator_state);
  }
}

void Trainer::State::prepare_validation() {
  int64_t n = std::min(options.train.val_size, dataset.split_size("val"));
  if (options.train.val_every == 0 || n == 0) return;
  auto val_generator = make_generator(derive_seed(options.seed, kValidationStream));
  auto rows = dataset.split_rows("val", 0, n);
  if (dataset.kind() == DataKind::kImage) {
    auto noise = torch::rand(rows.sizes(), val_generator, torch::kFloat32);
    rows = dequantize(rows, noise, dataset.image_transform()).x.to(torch::kFloat32);
  }
  val_x1 = rows.to(device);
  val_x0 = torch::randn(rows.sizes(), val_generator, torch::kFloat32).to(device);
  val_t = torch::rand({n}, val_generator, torch::kFloat32).to(device);
}

double Trainer::State::train_step(double lr, bool want_norm, double* grad_norm) {
  // Draw the batch: data, source, times — always in this order from one generator.
  auto x1 = dataset.sample_train(rank_batch, generator);
  auto x0 = torch::randn(x1.sizes(), generator, torch::kFloat32);
  auto t = torch::rand({x1.size(0)}, generator, torch::kFloat32);
  x0 = couple(options.path, x0, x1);
  auto sample = sample_path(options.path, x0, x1, t, generator);

  // Regress the network on the conditional target.
  set_learning_rate(*optimizer, lr);
  optimizer->zero_grad();
  auto loss =
      flow_matching_backward(*model, sample.x_t.to(device), t.to(device), sample.u_t.to(device));
  dist.all_reduce_gradients(model->parameters());  // the global batch's gradient
  // The norm costs a pass over every gradient: only when clipping or logging.
  if (options.train.grad_clip > 0) {
    *grad_norm = torch::nn::utils::clip_grad_norm_(model->parameters(), options.train.grad_clip);
  } else if (want_norm) {
    *grad_norm = torch::nn::utils::clip_grad_norm_(model->parameters(), INFINITY);
  }
  optimizer->step();
  if (ema) ema->update(step);
  return mean_over_ranks(dist, loss);
}

double Trainer::State::validation_loss() {
  torch::NoGradGuard no_grad;
  auto& net = eval_model();
  net.eval();
  // Path noise (icfm, otcfm) from a fixed stream: the loss must not depend on
  // when it is computed, and must not advance the training generator.
  auto noise = make_generator(derive_seed(options.seed, kValidationStream) + 1);
  auto sample = sample_path(options.path, val_x0, val_x1, val_t, noise);
  double loss = flow_matching_loss(net.forward(sample.x_t, val_t), sample.u_t).item<double>();
  net.train();
  return loss;
}

void Trainer::State::save(const std::string& name) {
  CheckpointState state;
  state.meta.config = options.resolved;
  state.meta.step = step;
  state.meta.example_shape = dataset.example_shape();
  state.meta.standardizer = dataset.standardizer();
  state.meta.best_val_loss = best_val_loss;
  state.meta.has_ema = static_cast<bool>(ema);
  state.model = model.get();
  state.ema = ema ? ema->shadow().get() : nullptr;
  state.optimizer = optimizer.get();
  state.generator_state = generator.get_state();
  if (dist.is_distributed()) state.rank_generator_states = dist.all_gather(state.generator_state);
  if (dist.is_main()) save_checkpoint(checkpoint_path(name), state);
}

Trainer::Trainer(RunOptions options, Dataset& dataset, std::string out_dir, bool resume,
                 const Distributed& dist)
    : state_(
          std::make_unique<State>(std::move(options), dataset, std::move(out_dir), resume, dist)) {}

Trainer::~Trainer() = default;

TrainSummary Trainer::run(int64_t stop_after_step) {
  State& s = *state_;
  const auto& train = s.options.train;
  if (s.resume && !fs::exists(s.checkpoint_path("latest"))) {
    throw InputError("--resume: nothing to resume in '" + s.out_dir + "' (no " +
                     s.checkpoint_path("latest") + ")");
  }
  OutputLock lock;
  if (s.dist.is_main()) lock = OutputLock(s.out_dir);  // one writer per output folder
  if (s.dist.is_main() && !s.resume && fs::exists(s.checkpoint_path("latest"))) {
    spdlog::warn("{} holds an earlier run; this run replaces its checkpoints and metrics "
                 "(--resume continues it instead)", s.out_dir);
  }
  s.build();
  if (s.resume) s.restore();
  s.prepare_validation();
  // Written only once the run is known to be valid (a refused resume keeps the old one).
  if (s.dist.is_main()) {  // the only rank that writes files
    fs::create_directories(fs::path(s.out_dir) / "checkpoints");
    write_text_atomically((fs::path(s.out_dir) / "config.json").string(),
                          s.options.resolved.dump(2) + "\n");
  }
  std::optional<MetricsLog> metrics;
  if (s.dist.is_main()) {
    metrics.emplace((fs::path(s.out_dir) / "metrics.jsonl").string(), s.resume ? s.step : 0);
  }

  TrainSummary summary;
  auto start = Clock::now();
  int64_t first_step = s.step, interval_steps = 0;
  double interval_loss = 0.0, grad_norm = 0.0, lr = 0.0;
  // A resumed run says where it stands: "training to step 400 (100 steps from
  // step 300)", not a count that reads as 400 more.
  const std::string span =
      s.step > 0 ? fmt::format("to step {} ({} steps from step {})", train.steps,
                               train.steps - s.step, s.step)
                 : fmt::format("{} steps", train.steps);
  spdlog::info("training {}, batch {}{}, out {}", span, train.batch_size,
               s.dist.is_distributed()
                   ? fmt::format(" ({} processes x {})", s.dist.world_size(), s.rank_batch)
                   : "",
               s.out_dir);

  auto validates_at = [&](int64_t step) {
    return train.val_every > 0 && s.val_x1.defined() &&
           (step % train.val_every == 0 || step == train.steps);
  };
  auto reports_at = [&](int64_t step) {
    return step % train.log_every == 0 || step == train.steps || validates_at(step);
  };
  while (s.step < train.steps) {
    // Optimisation step.
    lr = learning_rate_at(train.schedule, train.optimizer.lr, s.step, train.steps);
    double loss = s.train_step(lr, reports_at(s.step + 1), &grad_norm);
    if (!std::isfinite(loss)) {
      throw RuntimeError("train: loss is " + std::to_string(loss) + " at step " +
                         std::to_string(s.step + 1) + " (try a lower train.optimizer.lr or "
                         "set train.grad_clip)");
    }
    ++s.step, ++interval_steps;
    interval_loss += loss;
    bool last = s.step == train.steps;

    // Log: one line and one metrics row per interval; an interval ends at
    // every logging step and every validation step.
    if (reports_at(s.step)) {
      double elapsed = seconds_since(start), per_second = (s.step - first_step) / elapsed;
      double mean_loss = interval_loss / interval_steps;
      nlohmann::json row = {{"step", s.step}, {"loss", mean_loss}, {"lr", lr},
                            {"grad_norm", grad_norm}, {"seconds", elapsed}};
      bool validate = validates_at(s.step);
      if (validate) {
        // Rank 0's figure decides, so that every rank saves "best" together.
        double val = s.dist.broadcast_from_main(s.validation_loss());
        row["val_loss"] = val;
        if (val < s.best_val_loss) {
          s.best_val_loss = val;
          s.save("best");
        }
      }
      if (metrics) metrics->append(row);
      spdlog::info("step {}/{} loss {:.4f}{} lr {:.2e} grad {:.3f} | {:.1f} steps/s | ETA {}",
                   s.step, train.steps, mean_loss,
                   validate ? fmt::format(" val {:.4f}", row["val_loss"].get<double>()) : "",
                   lr, grad_norm, per_second,
                   format_duration((train.steps - s.step) / std::max(per_second, 1e-9)));
      summary.last_loss = mean_loss;
      interval_loss = 0.0, interval_steps = 0;
    }

    // Checkpoint.
    bool stop = s.step == stop_after_step;
    if (s.step % train.checkpoint_every == 0 || last || stop) s.save("latest");
    if (stop) break;
  }

  // Without validation, "best" is the final weights.
  bool need_best = !s.val_x1.defined() || !fs::exists(s.checkpoint_path("best"));
  if (s.dist.broadcast_from_main(need_best ? 1.0 : 0.0) != 0.0) s.save("best");
  summary.steps = s.step;
  summary.best_val_loss = std::isfinite(s.best_val_loss) ? s.best_val_loss : NAN;
  summary.seconds = seconds_since(start);
  summary.latest_checkpoint = s.checkpoint_path("latest");
  summary.best_checkpoint = s.checkpoint_path("best");
  return summary;
}

}  // namespace fm
