// Checkpoints: everything a run needs to continue exactly or to be sampled and
// evaluated later. One file (LibTorch archive) per checkpoint, written to a
// temporary name and renamed, so a crash never leaves a half-written file.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "fm/data/standardizer.h"
#include "fm/nn/velocity_model.h"

namespace fm {

// Version of the checkpoint layout; readers refuse other versions by name.
constexpr int64_t kCheckpointFormatVersion = 1;

struct CheckpointMeta {
  nlohmann::json config;               // resolved run config
  int64_t step = 0;                    // optimisation steps completed
  std::vector<int64_t> example_shape;  // one example, e.g. {2} or {1, 28, 28}
  Standardizer standardizer;           // tables: training statistics
  double best_val_loss = INFINITY;     // lowest validation loss so far
  bool has_ema = false;
};

// Everything saved. Tensors are CPU tensors; the modules may live on any device.
struct CheckpointState {
  CheckpointMeta meta;
  VelocityModel* model = nullptr;
  VelocityModel* ema = nullptr;               // null when the run keeps no EMA
  torch::optim::Optimizer* optimizer = nullptr;
  torch::Tensor generator_state;              // at::Generator::get_state()
  // Multi-process runs: every rank's generator state, (world_size, S) uint8,
  // row r for rank r (generator_state is row 0). Undefined otherwise.
  torch::Tensor rank_generator_states;
};

// Writes `state` to `path` atomically.
void save_checkpoint(const std::string& path, const CheckpointState& state);

// Reads only the metadata (to rebuild the dataset and the network first).
// Throws InputError naming the file if it is missing, not a checkpoint, or of
// another format version.
CheckpointMeta read_checkpoint_meta(const std::string& path);

// Loads weights (and EMA, optimizer and generator state where the pointers are
// set) into already built objects of the same architecture.
void load_checkpoint(const std::string& path, CheckpointState& state);

}  // namespace fm
