// SiLU with the layer's bias added in the same pass (private to fm/nn), for
// the MLP's sampling forward pass, and with its slope for the exact
// divergence and training: after a product without bias, one read and one
// write of the activations instead of LibTorch's three passes (copy the bias
// into the output, accumulate the product onto it, apply SiLU in place), and
// one exponential for value and slope. Plain C++ with no LibTorch, so that it
// compiles with its own flags.
#pragma once

#include <cstdint>

namespace fm::nn_detail {

// z[i][j] <- silu(z[i][j] + bias[j]) for a row-major rows x cols float block,
// silu(v) = v / (1 + e^-v): within 3 units in the last place of the exact
// value for v >= -88.3, -0 below (where the exact value is under 3.7e-37 in
// magnitude); NaN for NaN, and for infinities as LibTorch's silu.
void add_bias_silu(float* z, int64_t rows, int64_t cols, const float* bias);

// The same, also writing SiLU's derivative at v to slope (rows x cols, not
// overlapping z) by LibTorch's formula, s (1 + v (1 - s)) with s = 1 / (1 + e^-v),
// for the forward-mode divergence. z then holds v s, within 4 units in the
// last place; the slope is within 2e-6 of the exact value (it lies in
// [-0.1, 1.1]; the same formula in LibTorch's silu_backward loses as much to
// cancellation in 1 - s). Tails as add_bias_silu: for v below -88.38 the
// value is -0 and the slope 0 (-0); for v = +-inf the slope is NaN, as in
// LibTorch.
void add_bias_silu_with_slope(float* z, float* slope, int64_t rows, int64_t cols,
                              const float* bias);

}  // namespace fm::nn_detail
