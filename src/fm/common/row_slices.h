// One slice of a batch's rows per intra-op thread, each slice run start to end
// on its own thread with single-threaded kernels inside (issue #5): the MLP's
// training step, sampling and exact divergence share this.
#pragma once

#include <torch/torch.h>

#include <functional>

namespace fm {

// How many slices of at least `min_rows` rows each a batch of `rows` rows on
// `device` is cut into, at most one per intra-op thread. 1 (no slicing) off
// the CPU, inside a parallel region, and where LibTorch's parallel_for would
// run the slices one after the other.
int64_t row_slice_count(int64_t rows, int64_t min_rows, const torch::Device& device);

// Calls fn(slice, begin, count) for every slice of `rows` rows cut into
// `slices` (slice s holds rows [rows * s / slices, rows * (s + 1) / slices)),
// one slice per thread, each with the caller's thread-local state (grad and
// inference mode are per thread). With one slice, fn runs on the caller.
void run_row_slices(int64_t rows, int64_t slices,
                    const std::function<void(int64_t, int64_t, int64_t)>& fn);

}  // namespace fm
