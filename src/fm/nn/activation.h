// Pointwise activations of the MLP without autograd (private to fm/nn): the
// inference forward pass, the forward-mode Jacobian of
// MLPImpl::velocity_and_divergence and the hand-written backpropagation of
// MLPImpl::regression_gradient use them.
#pragma once

#include <torch/torch.h>

#include <string>

namespace fm::nn_detail {

// Applies the activation `name` ("silu", "relu", "gelu", "tanh", "softplus",
// the same functions as torch::nn's modules with default options) to z in
// place where LibTorch has an in-place kernel, and returns the result (z
// itself or a new tensor). z must not be needed by autograd: call under
// NoGradGuard or InferenceMode. Throws InputError for another name.
torch::Tensor activate_(torch::Tensor z, const std::string& name);

// Whether add_bias_activate_() and add_bias_activate_with_slope_() take
// bias_silu.h's one-pass kernels for this z, bias and activation.
bool takes_fused_silu(const torch::Tensor& z, const torch::Tensor& bias, const std::string& name);

// act(z + bias) in place, bias (cols,) broadcast over z's (rows, cols), for a
// layer whose product was taken without its bias; an undefined bias adds
// nothing. SiLU on a contiguous float32 CPU z adds the bias and activates in
// one pass (bias_silu.h), within a few float32 rounding steps of LibTorch's
// silu; everything else goes through LibTorch. Same requirements as activate_().
torch::Tensor add_bias_activate_(torch::Tensor z, const torch::Tensor& bias,
                                 const std::string& name);

// act(z) with autograd (LibTorch's functions), for training.
torch::Tensor activate(const torch::Tensor& z, const std::string& name);

struct ActivationAndSlope {
  torch::Tensor value;  // act(z), same shape as z
  torch::Tensor slope;  // act'(z), same shape as z
};

// act(z + bias) and its derivative act'(z + bias), both pointwise, bias as
// add_bias_activate_() (undefined: none); z is overwritten (it is a layer's
// pre-activation, not needed afterwards). Same names and requirements as
// activate_(). softplus uses beta 1 and, as torch does, slope 1 above the
// threshold 20 (where sigmoid already rounds to 1 in float32). SiLU on a
// contiguous float32 CPU z takes one pass (bias_silu.h), within a few float32
// rounding steps of LibTorch's kernels.
ActivationAndSlope add_bias_activate_with_slope_(torch::Tensor z, const torch::Tensor& bias,
                                                 const std::string& name);

// The gradient with respect to z of a loss whose gradient with respect to
// act(z) is `grad`: grad * act'(z), by LibTorch's own backward kernels (the
// same autograd runs). `value` is act(z), which tanh's derivative is taken from.
torch::Tensor activation_backward(const torch::Tensor& grad, const torch::Tensor& z,
                                  const torch::Tensor& value, const std::string& name);

}  // namespace fm::nn_detail
