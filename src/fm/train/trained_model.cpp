#include "fm/train/trained_model.h"

#include <spdlog/spdlog.h>

#include "fm/common/error.h"
#include "fm/config/json_diff.h"
#include "fm/train/model_builder.h"

namespace fm {

TrainedModel load_trained_model(const std::string& path,
                                const std::function<void(nlohmann::json&)>& edit, bool use_ema) {
  TrainedModel out;
  out.meta = read_checkpoint_meta(path);
  nlohmann::json config = out.meta.config;
  if (edit) edit(config);
  // Only how to sample and evaluate may change: the network, data and path
  // must stay those the weights were trained with.
  auto changed = first_difference(out.meta.config, config, {"sample", "eval", "device"});
  if (!changed.empty()) {
    throw InputError("checkpoint '" + path + "': config key '" + changed +
                     "' cannot be changed for a trained model (only sample.*, eval.* and device)");
  }
  out.options = parse_run_options(config);
  out.device = run_device(out.options);

  out.model = build_velocity_model(out.options, out.meta.example_shape);
  out.uses_ema = use_ema && out.meta.has_ema;
  CheckpointState state;
  state.meta = out.meta;
  if (out.uses_ema) {
    // The EMA weights are loaded into the network that is used.
    auto raw = build_velocity_model(out.options, out.meta.example_shape);
    state.model = raw.get();
    state.ema = out.model.get();
    load_checkpoint(path, state);
  } else {
    state.model = out.model.get();
    load_checkpoint(path, state);
  }
  out.model->eval();
  for (auto& p : out.model->parameters()) p.set_requires_grad(false);
  spdlog::info("loaded {} (step {}, {} weights): {}", path, out.meta.step,
               out.uses_ema ? "EMA" : "raw", out.model->describe());
  return out;
}

}  // namespace fm
