// SiLU with the layer's bias added in the same pass (private to fm/nn), for
// the MLP's sampling forward pass: after a product without bias, one read and
// one write of the activations instead of LibTorch's three passes (copy the
// bias into the output, accumulate the product onto it, apply SiLU in place).
// Plain C++ with no LibTorch, so that it compiles with its own flags.
#pragma once

#include <cstdint>

namespace fm::nn_detail {

// z[i][j] <- silu(z[i][j] + bias[j]) for a row-major rows x cols float block,
// silu(v) = v / (1 + e^-v): within 3 units in the last place of the exact
// value for v >= -88.3, -0 below (where the exact value is under 3.7e-37 in
// magnitude); NaN for NaN, and for infinities as LibTorch's silu.
void add_bias_silu(float* z, int64_t rows, int64_t cols, const float* bias);

}  // namespace fm::nn_detail
