// Learning-rate schedule values at known points.
#include <gtest/gtest.h>

#include "fm/train/schedule.h"

namespace fm {
namespace {

TEST(Schedule, WarmupRisesLinearlyToPeak) {
  ScheduleOptions s;
  s.warmup_steps = 4;
  EXPECT_DOUBLE_EQ(learning_rate_at(s, 1.0, 0, 100), 0.25);
  EXPECT_DOUBLE_EQ(learning_rate_at(s, 1.0, 3, 100), 1.0);
  EXPECT_DOUBLE_EQ(learning_rate_at(s, 1.0, 50, 100), 1.0);  // constant afterwards
}

TEST(Schedule, CosineRunsFromPeakToMinimumAtLastStep) {
  ScheduleOptions s;
  s.type = "cosine";
  s.warmup_steps = 10;
  s.min_lr = 0.1;
  EXPECT_DOUBLE_EQ(learning_rate_at(s, 1.0, 10, 111), 1.0);
  EXPECT_NEAR(learning_rate_at(s, 1.0, 60, 111), 0.55, 1e-12);  // half way: (1 + 0.1) / 2
  EXPECT_NEAR(learning_rate_at(s, 1.0, 110, 111), 0.1, 1e-12);
}

}  // namespace
}  // namespace fm
