#include "fm/common/row_slices.h"

#include <ATen/Parallel.h>
#include <ATen/ThreadLocalState.h>

#include <algorithm>

namespace fm {

int64_t row_slice_count(int64_t rows, int64_t min_rows, const torch::Device& device) {
#ifndef INTRA_OP_PARALLEL
  return 1;  // this file is compiled without OpenMP: no slice would run in parallel
#else
  if (!device.is_cpu() || at::in_parallel_region()) return 1;
  return std::clamp<int64_t>(rows / min_rows, 1, at::get_num_threads());
#endif
}

void run_row_slices(int64_t rows, int64_t slices,
                    const std::function<void(int64_t, int64_t, int64_t)>& fn) {
  if (slices <= 1) {
    fn(0, 0, rows);
    return;
  }
  const at::ThreadLocalState caller_state;
  at::parallel_for(0, slices, 1, [&](int64_t begin, int64_t end) {
    at::ThreadLocalStateGuard same_state(caller_state);
    for (int64_t s = begin; s < end; ++s) {
      const int64_t lo = rows * s / slices;
      fn(s, lo, rows * (s + 1) / slices - lo);
    }
  });
}

}  // namespace fm
