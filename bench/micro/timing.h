// Timing for the micro-benchmarks: the median of repeated calls.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

namespace fm::bench {

// Median milliseconds of `reps` calls of fn, after one untimed call.
inline double median_ms(const std::function<void()>& fn, int reps) {
  fn();
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    auto start = std::chrono::steady_clock::now();
    fn();
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace fm::bench
