#include "fm/train/run_options.h"

#include "fm/common/error.h"
#include "fm/config/section.h"
#include "fm/data/dataset.h"
#include "fm/nn/velocity_model.h"

namespace fm {
namespace {

bool is_image_data(const nlohmann::json& data) {
  if (!data.is_object() || !data.contains("type") || !data["type"].is_string()) return false;
  auto type = data["type"].get<std::string>();
  return type == "mnist" || type == "fashion-mnist";
}

PathOptions read_path(ConfigSection& s) {
  PathOptions o;
  o.type = s.choice("type", o.type, {"condot", "icfm", "otcfm"});
  o.sigma_min = s.number("sigma_min", o.type == "condot" ? 1e-4 : 0.0, 0.0, 1.0);
  o.sigma = s.number("sigma", 0.0, 0.0, 100.0);
  if (o.type == "condot" && o.sigma != 0.0) {
    throw InputError(
        "config: key 'path.sigma' applies to icfm and otcfm; condot uses "
        "path.sigma_min");
  }
  s.finish();
  return o;
}

OptimizerOptions read_optimizer(ConfigSection& s) {
  OptimizerOptions o;
  o.type = s.choice("type", o.type, {"adam", "adamw"});
  o.lr = s.number("lr", o.lr, 0.0, 10.0, /*min_exclusive=*/true);
  auto betas = s.numbers("betas", {o.beta1, o.beta2});
  if (betas.size() != 2 || betas[0] < 0 || betas[0] >= 1 || betas[1] < 0 || betas[1] >= 1) {
    throw InputError("config: key '" + s.key_path("betas") + "' must be two numbers in [0, 1)");
  }
  o.beta1 = betas[0], o.beta2 = betas[1];
  o.eps = s.number("eps", o.eps, 0.0, 1.0, true);
  o.weight_decay = s.number("weight_decay", o.type == "adamw" ? 1e-2 : 0.0, 0.0);
  s.finish();
  return o;
}

ScheduleOptions read_schedule(ConfigSection& s, double lr) {
  ScheduleOptions o;
  o.type = s.choice("type", o.type, {"constant", "cosine"});
  o.warmup_steps = s.integer("warmup_steps", 0, 0);
  o.min_lr = s.number("min_lr", 0.0, 0.0, lr);
  s.finish();
  return o;
}

// Reads a nested section and records its resolved values in the parent.
template <typename Reader>
auto read_nested(ConfigSection& parent, const std::string& key, Reader reader) {
  ConfigSection child = parent.section(key);
  auto options = reader(child);
  parent.set_resolved(key, child.resolved());
  return options;
}

TrainOptions read_train(ConfigSection& s) {
  TrainOptions o;
  o.steps = s.integer("steps", o.steps, 1);
  o.batch_size = s.integer("batch_size", o.batch_size, 1);
  o.optimizer = read_nested(s, "optimizer", read_optimizer);
  double lr = o.optimizer.lr;
  o.schedule = read_nested(s, "schedule", [lr](ConfigSection& c) { return read_schedule(c, lr); });
  o.grad_clip = s.number("grad_clip", o.grad_clip, 0.0);
  o.ema_decay = s.number("ema_decay", o.ema_decay, 0.0, 1.0);
  if (o.ema_decay >= 1.0) {
    throw InputError("config: key 'train.ema_decay' = 1 must be < 1 (0 disables the EMA)");
  }
  o.log_every = s.integer("log_every", o.log_every, 1);
  o.val_every = s.integer("val_every", o.val_every, 0);
  o.val_size = s.integer("val_size", o.val_size, 1);
  o.checkpoint_every = s.integer("checkpoint_every", o.checkpoint_every, 1);
  s.finish();
  return o;
}

SampleOptions read_sample(ConfigSection& s) {
  SampleOptions o;
  SolverOptions defaults;
  defaults.method = "rk4";
  defaults.steps = 50;
  o.solver = read_solver_options(s, defaults);
  o.num = s.integer("num", o.num, 1);
  o.batch_size = s.integer("batch_size", o.batch_size, 1);
  s.finish();
  return o;
}

EvalOptions read_eval(ConfigSection& s, bool images) {
  EvalOptions o;
  o.split = s.choice("split", o.split, {"test", "val"});
  auto& div = o.likelihood.divergence;
  div.estimator = s.choice("estimator", images ? "hutchinson" : "exact", {"exact", "hutchinson"});
  div.probe = s.choice("probe", div.probe, {"gaussian", "rademacher"});
  div.n_probes = s.integer("n_probes", div.n_probes, 1);
  // Tabular default as in FFJORD's evaluation: dopri5, atol 1e-8, rtol 1e-6.
  // Images default to a fixed-step solve: tight adaptive tolerances on a
  // 784-dimensional state cost hundreds of evaluations per batch.
  SolverOptions defaults;
  defaults.method = images ? "rk4" : "dopri5";
  defaults.steps = images ? 20 : 0;
  defaults.atol = 1e-8;
  defaults.rtol = 1e-6;
  o.likelihood.solver = read_solver_options(s, defaults);
  o.batch_size = s.integer("batch_size", images ? 100 : 1000, 1);
  o.limit = s.integer("limit", o.limit, 0);
  s.finish();
  return o;
}

}  // namespace

SolverOptions read_solver_options(ConfigSection& s, const SolverOptions& defaults) {
  SolverOptions o = defaults;
  o.method = s.choice("solver", defaults.method, solver_names());
  bool adaptive = is_adaptive(o.method);
  o.step_size = s.number("step_size", 0.0, 0.0, 1.0);
  // A step size alone sets the step count; a default count would contradict it.
  int64_t default_steps =
      adaptive || o.step_size > 0 ? 0 : (defaults.steps > 0 ? defaults.steps : 50);
  o.steps = s.integer("steps", default_steps, 0, 10000000);
  if (adaptive && (o.steps > 0 || o.step_size > 0)) {
    throw InputError("config: key '" + s.key_path(o.steps > 0 ? "steps" : "step_size") +
                     "' applies to fixed-step solvers, not '" + o.method + "' (use rtol/atol)");
  }
  if (!adaptive && o.steps == 0 && o.step_size == 0.0) {
    throw InputError("config: key '" + s.key_path("steps") + "' must be >= 1 for solver '" +
                     o.method + "' (or give step_size)");
  }
  if (o.step_size > 0) {
    // The step must tile [0, 1] and agree with an explicit step count.
    double ratio = 1.0 / o.step_size;
    int64_t n = std::llround(ratio);
    if (std::abs(ratio - n) > 1e-6 * ratio) {
      throw InputError("config: key '" + s.key_path("step_size") + "' = " +
                       nlohmann::json(o.step_size).dump() + " must divide [0, 1] into whole steps");
    }
    if (o.steps > 0 && o.steps != n) {
      throw InputError("config: keys '" + s.key_path("steps") + "' = " + std::to_string(o.steps) +
                       " and '" + s.key_path("step_size") +
                       "' = " + nlohmann::json(o.step_size).dump() + " disagree; give one of them");
    }
    o.steps = n;
  }
  // Tolerances below float64 resolution cannot be met by any step.
  o.rtol = s.number("rtol", defaults.rtol, 1e-14, 1.0);
  o.atol = s.number("atol", defaults.atol, 1e-14, 1.0);
  o.max_steps = s.integer("max_steps", defaults.max_steps, 1);
  return o;
}

RunOptions parse_run_options(const nlohmann::json& config) {
  ConfigSection root(config, "");
  RunOptions o;
  o.name = root.string("name", "run");
  if (o.name.empty() || o.name == "." || o.name == ".." || o.name.find('/') != std::string::npos) {
    throw InputError("config: key 'name' = \"" + o.name +
                     "\" must be a plain folder name (no '/', not empty, '.' or '..')");
  }
  if (root.has("comment")) root.string("comment", "");
  o.seed = static_cast<uint64_t>(root.integer("seed", 0, 0));
  o.device = root.choice("device", "cpu", {"cpu", "cuda"});
  root.section("data");
  root.section("model");
  o.data = config.value("data", nlohmann::json::object());
  o.model = config.value("model", nlohmann::json::object());
  bool images = is_image_data(o.data);
  o.path = read_nested(root, "path", read_path);
  o.train = read_nested(root, "train", read_train);
  o.sample = read_nested(root, "sample", read_sample);
  o.eval = read_nested(root, "eval", [images](ConfigSection& s) { return read_eval(s, images); });
  root.finish();

  o.resolved = root.resolved();
  o.resolved["data"] = resolved_data_config(o.data);
  o.resolved["model"] = resolved_model_config(o.model);
  return o;
}

}  // namespace fm
