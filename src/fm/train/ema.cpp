#include "fm/train/ema.h"

#include <algorithm>

namespace fm {

void copy_weights(VelocityModel& from, VelocityModel& to) {
  torch::NoGradGuard no_grad;
  auto src = from.parameters(), dst = to.parameters();
  for (size_t i = 0; i < src.size(); ++i) dst[i].copy_(src[i]);
  auto src_buffers = from.buffers(), dst_buffers = to.buffers();
  for (size_t i = 0; i < src_buffers.size(); ++i) dst_buffers[i].copy_(src_buffers[i]);
}

WeightEma::WeightEma(VelocityModel& model, VelocityModelPtr shadow, double decay)
    : model_(model), shadow_(std::move(shadow)), decay_(decay) {
  copy_weights(model_, *shadow_);
  for (auto& p : shadow_->parameters()) p.set_requires_grad(false);
}

void WeightEma::update(int64_t n_updates_before) {
  torch::NoGradGuard no_grad;
  double n = static_cast<double>(n_updates_before);
  double d = std::min(decay_, (1.0 + n) / (10.0 + n));
  auto weights = model_.parameters(), averages = shadow_->parameters();
  for (size_t i = 0; i < weights.size(); ++i) averages[i].mul_(d).add_(weights[i], 1.0 - d);
  auto buffers = model_.buffers(), shadow_buffers = shadow_->buffers();
  for (size_t i = 0; i < buffers.size(); ++i) shadow_buffers[i].copy_(buffers[i]);
}

}  // namespace fm
