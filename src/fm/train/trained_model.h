// Loading a checkpoint for sampling or evaluation.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "fm/nn/velocity_model.h"
#include "fm/train/checkpoint.h"
#include "fm/train/run_options.h"

namespace fm {

struct TrainedModel {
  RunOptions options;       // the checkpoint's config after `edit`
  CheckpointMeta meta;
  VelocityModelPtr model;   // EMA weights when the checkpoint has them and use_ema
  bool uses_ema = false;
  torch::Device device = torch::kCPU;
};

// Reads `path`, lets `edit` change the stored config (command-line overrides of
// sample.* or eval.* keys, the device), validates it and builds the network with
// the checkpoint's weights, frozen, in eval mode.
TrainedModel load_trained_model(const std::string& path,
                                const std::function<void(nlohmann::json&)>& edit, bool use_ema);

}  // namespace fm
