// Exponential moving average of a network's weights, used for sampling and
// evaluation when a run keeps one.
#pragma once

#include <cstdint>

#include "fm/nn/velocity_model.h"

namespace fm {

class WeightEma {
 public:
  // `shadow` must have the architecture of `model`; it starts as a copy of it.
  WeightEma(VelocityModel& model, VelocityModelPtr shadow, double decay);

  // shadow = d * shadow + (1 - d) * weights, with the warm-up
  // d = min(decay, (1 + n) / (10 + n)) for the n-th update, so that a short run's
  // average is not dominated by the random initialisation. Buffers are copied.
  void update(int64_t n_updates_before);

  VelocityModelPtr shadow() const { return shadow_; }

 private:
  VelocityModel& model_;
  VelocityModelPtr shadow_;
  double decay_;
};

// Copies every parameter and buffer of `from` into `to` (same architecture).
void copy_weights(VelocityModel& from, VelocityModel& to);

}  // namespace fm
