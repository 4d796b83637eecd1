// The typed view of a whole run config (DESIGN: contracts). One JSON object
// per component:
//   { "name", "seed", "device", "comment",
//     "data":  {...}   read by make_dataset        (fm/data/dataset.h)
//     "model": {...}   read by make_velocity_model (fm/nn/velocity_model.h)
//     "path":  {...}, "train": {...}, "sample": {...}, "eval": {...} }
// Every key, its default and its range is documented in docs/config.md.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "fm/likelihood/likelihood.h"
#include "fm/paths/path.h"
#include "fm/solvers/solver.h"

namespace fm {

struct OptimizerOptions {
  std::string type = "adam";  // "adam" or "adamw"
  double lr = 1e-3;           // peak learning rate
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // adam: L2 added to the gradient; adamw: decoupled
};

struct ScheduleOptions {
  std::string type = "constant";  // "constant" or "cosine" (to min_lr at the last step)
  int64_t warmup_steps = 0;       // linear warm-up from 0 to lr
  double min_lr = 0.0;
};

struct TrainOptions {
  int64_t steps = 2000;
  int64_t batch_size = 512;
  OptimizerOptions optimizer;
  ScheduleOptions schedule;
  double grad_clip = 0.0;          // max global gradient norm; 0 disables clipping
  double ema_decay = 0.0;          // EMA of weights; 0 disables it
  int64_t log_every = 100;         // steps between progress lines and metrics rows
  int64_t val_every = 500;         // steps between validation losses; 0 disables
  int64_t val_size = 2000;         // validation rows used (a prefix of the split)
  int64_t checkpoint_every = 500;  // steps between writes of checkpoints/latest.pt
};

struct SampleOptions {
  SolverOptions solver;       // integrates t = 0 -> 1
  int64_t num = 10000;        // samples written by default
  int64_t batch_size = 10000; // samples integrated at once
};

struct EvalOptions {
  std::string split = "test";   // "test" or "val"
  LikelihoodOptions likelihood;
  int64_t batch_size = 1000;    // points per solve
  int64_t limit = 0;            // evaluate only the first `limit` points; 0 = all
};

struct RunOptions {
  std::string name;
  uint64_t seed = 0;
  std::string device = "cpu";
  nlohmann::json data;   // the "data" section, validated by make_dataset
  nlohmann::json model;  // the "model" section, validated by make_velocity_model
  PathOptions path;
  TrainOptions train;
  SampleOptions sample;
  EvalOptions eval;
  nlohmann::json resolved;  // the config with every default filled in
};

// Validates and reads every section (data and model through their factories'
// resolvers). Throws InputError naming the key at fault.
RunOptions parse_run_options(const nlohmann::json& config);

// Reads solver keys (solver, steps, step_size, rtol, atol, max_steps) of a section.
class ConfigSection;
SolverOptions read_solver_options(ConfigSection& section, const SolverOptions& defaults);

}  // namespace fm
