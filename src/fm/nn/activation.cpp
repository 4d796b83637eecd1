#include "fm/nn/activation.h"

#include "fm/common/error.h"
#include "fm/nn/bias_silu.h"

namespace fm::nn_detail {
namespace {

// Softplus as torch::nn::Softplus with its defaults.
constexpr double kSoftplusBeta = 1.0;
constexpr double kSoftplusThreshold = 20.0;

[[noreturn]] void unknown(const std::string& name) {
  throw InputError("mlp: activation '" + name +
                   "' must be one of silu, relu, gelu, tanh, softplus");
}

}  // namespace

torch::Tensor activate(const torch::Tensor& z, const std::string& name) {
  if (name == "silu") return torch::silu(z);
  if (name == "relu") return torch::relu(z);
  if (name == "gelu") return torch::gelu(z);
  if (name == "tanh") return torch::tanh(z);
  if (name == "softplus") return torch::softplus(z, kSoftplusBeta, kSoftplusThreshold);
  unknown(name);
}

torch::Tensor activate_(torch::Tensor z, const std::string& name) {
  if (name == "silu") return torch::silu_(z);
  if (name == "relu") return torch::relu_(z);
  if (name == "gelu") return torch::gelu_(z);
  if (name == "tanh") return torch::tanh_(z);
  if (name == "softplus") return torch::softplus(z, kSoftplusBeta, kSoftplusThreshold);
  unknown(name);
}

// bias_silu.h's kernels write through the data pointer, which autograd would
// not see: a z that requires grad takes LibTorch's in-place operations instead.
bool takes_fused_silu(const torch::Tensor& z, const torch::Tensor& bias, const std::string& name) {
  return name == "silu" && bias.defined() && z.scalar_type() == torch::kFloat &&
         z.device().is_cpu() && z.dim() == 2 && z.is_contiguous() && !z.requires_grad() &&
         bias.scalar_type() == torch::kFloat && bias.device().is_cpu() && bias.dim() == 1 &&
         bias.size(0) == z.size(1);
}

torch::Tensor add_bias_activate_(torch::Tensor z, const torch::Tensor& bias,
                                 const std::string& name) {
  if (!takes_fused_silu(z, bias, name)) {
    return activate_(bias.defined() ? z.add_(bias) : z, name);
  }
  const auto b = bias.contiguous();
  add_bias_silu(z.data_ptr<float>(), z.size(0), z.size(1), b.data_ptr<float>());
  return z;
}

ActivationAndSlope add_bias_activate_with_slope_(torch::Tensor z, const torch::Tensor& bias,
                                                 const std::string& name) {
  ActivationAndSlope out;
  if (takes_fused_silu(z, bias, name)) {
    const auto b = bias.contiguous();
    out.slope = torch::empty_like(z);
    add_bias_silu_with_slope(z.data_ptr<float>(), out.slope.data_ptr<float>(), z.size(0), z.size(1),
                             b.data_ptr<float>());
    out.value = z;
    return out;
  }
  if (bias.defined()) z.add_(bias);
  // Otherwise the slopes come from LibTorch's own backward kernels with a
  // gradient of ones: one fused pass each, and the same formulas autograd uses,
  // so the forward-mode Jacobian agrees with reverse mode to rounding. (A SiLU
  // slope built from LibTorch's sigmoid(z), one exponential fewer, took three
  // more passes over the activations and measured no faster.)
  const auto ones = torch::ones({}, z.options()).expand_as(z);
  if (name == "silu") {
    out.slope = torch::silu_backward(ones, z);
  } else if (name == "relu") {
    out.slope = torch::threshold_backward(ones, z, 0.0);
  } else if (name == "gelu") {
    out.slope = torch::gelu_backward(ones, z);
  } else if (name == "softplus") {
    out.slope = torch::softplus_backward(ones, z, kSoftplusBeta, kSoftplusThreshold);
  } else if (name == "tanh") {
    out.value = torch::tanh_(z);
    out.slope = torch::tanh_backward(ones, out.value);  // 1 - tanh^2, from the output
    return out;
  } else {
    unknown(name);
  }
  out.value = activate_(z, name);
  return out;
}

torch::Tensor activation_backward(const torch::Tensor& grad, const torch::Tensor& z,
                                  const torch::Tensor& value, const std::string& name) {
  if (name == "silu") return torch::silu_backward(grad, z);
  if (name == "relu") return torch::threshold_backward(grad, value, 0.0);
  if (name == "gelu") return torch::gelu_backward(grad, z);
  if (name == "tanh") return torch::tanh_backward(grad, value);
  if (name == "softplus") {
    return torch::softplus_backward(grad, z, kSoftplusBeta, kSoftplusThreshold);
  }
  unknown(name);
}

}  // namespace fm::nn_detail
