#include "fm/train/schedule.h"

#include <algorithm>
#include <cmath>

namespace fm {

double learning_rate_at(const ScheduleOptions& schedule, double peak, int64_t step,
                        int64_t total_steps) {
  if (step < schedule.warmup_steps) {
    return peak * static_cast<double>(step + 1) / static_cast<double>(schedule.warmup_steps);
  }
  if (schedule.type == "constant") return peak;
  int64_t decay_steps = std::max<int64_t>(1, total_steps - schedule.warmup_steps - 1);
  double progress = std::min(1.0, static_cast<double>(step - schedule.warmup_steps) / decay_steps);
  return schedule.min_lr + (peak - schedule.min_lr) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

}  // namespace fm
