// GroupNorm for channels-last (NHWC) tensors, for the U-Net (private to fm/nn).
//
// LibTorch 1.13's own GroupNorm on a channels-last tensor is several times
// slower than on NCHW and its convolutions are faster on channels-last input
// (no reorders to oneDNN's layout), so the U-Net runs channels-last on the CPU
// with this kernel in place of torch::group_norm (docs/speed.md).
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace fm::nn_detail {

// True when x is a CPU float/double (N, C, H, W) tensor laid out channels-last
// (and not also plain contiguous): the tensors group_norm_channels_last() takes.
bool is_channels_last_cpu(const torch::Tensor& x);

// torch::group_norm(x, groups, weight, bias, eps) for x with
// is_channels_last_cpu(x); weight and bias are (C). Returns a new
// channels-last tensor. Statistics are accumulated in double in two passes
// (mean, then squared deviations), so the result matches LibTorch's to
// rounding of the output type. Differentiable (first order, as its own
// kernel; under create_graph its backward differentiates LibTorch's
// GroupNorm instead).
torch::Tensor group_norm_channels_last(const torch::Tensor& x, int64_t groups,
                                       const torch::Tensor& weight, const torch::Tensor& bias,
                                       double eps);

}  // namespace fm::nn_detail
