// 3x3 stride-1 convolutions by oneDNN's Winograd algorithm, for the U-Net
// (private to fm/nn).
//
// LibTorch runs CPU convolutions with oneDNN's direct algorithm. oneDNN also
// has a Winograd F(4x4, 3x3) algorithm for float32 on AVX-512 CPUs, which
// computes the same convolution with about a quarter of the multiplications:
// 2-2.5x faster than the direct kernels at the U-Net's 28x28 shapes, 1.4-1.9x
// at 14x14 and 7x7, forward and both backward passes (docs/speed.md). Its
// results differ from the direct algorithm's by float32 rounding of a larger
// size (tested in winograd_conv_test.cpp).
//
// Available in builds that found oneDNN 2.x's headers and the library
// LibTorch links (FM_WITH_DNNL_CONV, see CMakeLists.txt), on CPUs oneDNN runs
// it on, for float32 CPU tensors whose channel counts it accepts; everything
// else takes LibTorch's convolution.
#pragma once

#include <torch/torch.h>

namespace fm::nn_detail {

// conv->forward(x), through winograd_conv3x3() when conv is 3x3 with stride
// 1, padding 1 (zeros), no dilation and one group, and
// winograd_conv_applies().
torch::Tensor conv2d(torch::nn::Conv2dImpl& conv, const torch::Tensor& x);

// Whether winograd_conv3x3(x, weight, bias) runs on oneDNN's Winograd kernels:
// this build has them, they are enabled, x is a float32 CPU (N, C, H, W)
// tensor, weight is (O, C, 3, 3), and oneDNN accepts the shapes on this CPU.
bool winograd_conv_applies(const torch::Tensor& x, const torch::Tensor& weight);

// torch::conv2d(x, weight, bias, stride 1, padding 1) for
// winograd_conv_applies(x, weight); bias may be undefined. The output has x's
// memory format (channels-last or contiguous). Differentiable: the backward
// pass also runs on the Winograd kernels; under create_graph it takes
// LibTorch's differentiable convolution backward instead.
torch::Tensor winograd_conv3x3(const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias);

// Whether this build has the kernels (FM_WITH_DNNL_CONV).
bool winograd_conv_built();

// Process-wide switch, on by default where the build has the kernels; tests
// turn it off to compare against LibTorch.
void set_winograd_conv_enabled(bool enabled);
bool winograd_conv_enabled();

}  // namespace fm::nn_detail
