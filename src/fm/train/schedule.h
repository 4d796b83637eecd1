// Learning-rate schedule: linear warm-up, then constant or cosine decay.
#pragma once

#include <cstdint>

#include "fm/train/run_options.h"

namespace fm {

// Learning rate for the optimisation step with 0-based index `step` out of
// `total_steps`. Warm-up: peak * (step + 1) / warmup_steps. Cosine: from peak at
// the end of warm-up to min_lr at the last step.
double learning_rate_at(const ScheduleOptions& schedule, double peak, int64_t step,
                        int64_t total_steps);

}  // namespace fm
