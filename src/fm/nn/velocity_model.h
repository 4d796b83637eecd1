// The velocity network v_theta(x, t) that flow matching trains.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace fm {

// Base class of every velocity network. x: (B, ...) data-shaped; t: (B,) in [0, 1].
// Returns (B, ...) shaped like x.
class VelocityModel : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& t) = 0;
  // Number of trainable scalars.
  int64_t parameter_count() const;
  // A one-line human description for the start-up log, e.g. "mlp 4x256 silu".
  virtual std::string describe() const = 0;

  // Optional fast path for the exact divergence (DESIGN: likelihood). A network
  // that can compute v(x, t) together with div v = sum_i dv_i/dx_i per row
  // without autograd overrides this, sets *v (B, ...) and *div (B,), both
  // detached, and returns true. The default returns false and leaves both
  // untouched: callers then differentiate forward() with autograd.
  virtual bool velocity_and_divergence(const torch::Tensor& x, const torch::Tensor& t,
                                       torch::Tensor* v, torch::Tensor* div);

  // Whether training may run the forward and backward pass of a batch in
  // slices of rows, one per thread, inside one parallel region
  // (fm/train/sliced_gradient.h). Only if each row's output depends on that
  // row alone, the pass draws no random numbers (their order across threads
  // would not be fixed), and every kernel it calls is safe inside a parallel
  // region. The default is false.
  virtual bool trains_in_row_slices() const { return false; }

  // Rows per autograd pass for a divergence that is not differentiated
  // (DivergenceOptions::rows_per_pass, set by fm-eval): a network whose
  // autograd graph is large per row caps the memory of an evaluation with it.
  // 0, the default: the whole batch in one pass.
  virtual int64_t divergence_rows_per_pass() const { return 0; }

  // Optional fast path for training. A network that can compute the gradient
  // of sum((v(x, t) - u)^2) * scale over its parameters without autograd
  // overrides this: it sets (*grads)[i] to the gradient of the i-th tensor of
  // parameters() (every one, in that order, fresh tensors), *loss to the
  // scaled sum (a detached scalar), and returns true. x, t, u as forward();
  // grad mode may be on or off. Where trains_in_row_slices() is true it is
  // called from several threads at once, one slice of rows each: it must not
  // change the module or any other shared state. The default returns false
  // and touches nothing.
  virtual bool regression_gradient(const torch::Tensor& x, const torch::Tensor& t,
                                   const torch::Tensor& u, double scale,
                                   std::vector<torch::Tensor>* grads, torch::Tensor* loss) {
    return false;
  }
};

using VelocityModelPtr = std::shared_ptr<VelocityModel>;

// Builds a network from the "model" section of a config.
//   model: the JSON object, with "type" in {"mlp", "unet"} and that type's keys
//          (see mlp.h and unet.h; every key has a default);
//   data_shape: the shape of one example without batch, e.g. {2} or {1, 28, 28}.
// Throws InputError naming "model.<key>" for an unknown type or key, a wrong
// type or an out-of-range value, and for a data shape the network cannot take.
VelocityModelPtr make_velocity_model(const nlohmann::json& model,
                                     const std::vector<int64_t>& data_shape);

// Every key the "model" section accepts for `type`, with its default (for
// writing the resolved config and the documentation).
nlohmann::json resolved_model_config(const nlohmann::json& model);

}  // namespace fm
