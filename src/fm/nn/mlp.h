// Multilayer perceptron velocity network for flat data, v(x, t) with x: (B, D).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "fm/config/section.h"
#include "fm/nn/velocity_model.h"

namespace fm {

struct MLPOptions {
  // Width of every hidden layer.
  int64_t hidden = 256;
  // Number of hidden Linear layers, each followed by the activation.
  int64_t depth = 4;
  // "silu", "relu", "gelu", "tanh" or "softplus".
  std::string activation = "silu";
  // "concat": t is one extra input feature (as in cfm_ref.py);
  // "sinusoidal": time_embedding_dim sin/cos features of t are appended.
  std::string time_embedding = "concat";
  // Sinusoidal only: number of time features (even), frequency scale 1000.
  int64_t time_embedding_dim = 32;
};

// Reads the MLP keys of the "model" section (type excepted; the caller reads
// it and calls finish()). Throws InputError naming model.<key>.
MLPOptions read_mlp_options(ConfigSection& section);

// v(x, t) = net(concat(x, e(t))) with e(t) = t (concat) or sinusoidal(t),
// net = depth x [Linear(., hidden), activation] -> Linear(hidden, D).
// With concat and SiLU this is exactly cfm_ref.py's MLP, parameters named
// alike ("net.0.weight", "net.0.bias", "net.2.weight", ...).
class MLPImpl : public VelocityModel {
 public:
  // data_dim: D, the size of one example.
  MLPImpl(int64_t data_dim, MLPOptions options);

  // x: (B, D); t: (B,). Returns (B, D). Throws InputError on other shapes.
  // With grad mode off (NoGradGuard, InferenceMode) it takes a leaner path:
  // no concatenation of t (its column of the first weight is folded into the
  // bias when all t are equal), each hidden layer's bias added in one pass
  // with its activation (add_bias_activate_), the output layer's fused into
  // its product, and one slice of rows per intra-op thread. The result equals
  // the autograd path's up to rounding.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& t) override;
  // The MLP mixes no rows, draws nothing, and its products and pointwise
  // kernels run single-threaded inside a parallel region.
  bool trains_in_row_slices() const override { return true; }

  // v(x, t) and div v = sum_i dv_i/dx_i for every row by forward-mode Jacobian
  // propagation, without autograd: the first layer's tangent for input i is
  // act'(z_1) * W_1[:, i], each later layer maps the D tangents with one
  // matrix product, and the output layer needs only the diagonal. The same
  // products as D reverse passes, without the graph. Each thread takes one
  // slice of the rows (single-threaded products), and the tangents go a few
  // input dimensions at a time (~1 MiB, at least one), so memory grows with
  // B but not with B x D.
  // Shapes as forward(); results are detached. Always returns true.
  bool velocity_and_divergence(const torch::Tensor& x, const torch::Tensor& t, torch::Tensor* v,
                               torch::Tensor* div) override;
  // The training gradient by hand-written backpropagation: the forward pass
  // keeps each layer's input and, per hidden layer, SiLU's slope from the
  // one-pass kernel (float32 on the CPU) or else the pre-activation; the
  // backward pass takes two products per layer (one for the first) and the
  // slope or LibTorch's activation derivatives: the work autograd would do,
  // without building its graph.
  // Throws InputError when u is not shaped like x. Always returns true.
  bool regression_gradient(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& u,
                           double scale, std::vector<torch::Tensor>* grads,
                           torch::Tensor* loss) override;
  // e.g. "mlp 4x256 silu, t concat, 198,914 parameters".
  std::string describe() const override;

  const MLPOptions& options() const { return options_; }

 private:
  void check_input(const torch::Tensor& x, const torch::Tensor& t) const;
  // [x, e(t)]: the first layer's input, (B, D + time features).
  torch::Tensor network_input(const torch::Tensor& x, const torch::Tensor& t) const;
  // W_1 [x, e(t)] + b_1 for grad mode off, without building the concatenation. (B, hidden)
  // With pending_bias, the part that is the same in every row (b_1, and t's
  // column when all rows share one t) is left for the caller to add and
  // returned there; it is undefined when nothing is left out.
  torch::Tensor first_preactivation(const torch::Tensor& x, const torch::Tensor& t,
                                    torch::Tensor* pending_bias = nullptr);
  torch::Tensor inference_forward(const torch::Tensor& x, const torch::Tensor& t);
  // inference_forward() and velocity_and_divergence() for one slice of rows.
  torch::Tensor forward_rows(const torch::Tensor& x, const torch::Tensor& t);
  // The last hidden layer's activation for one slice of rows, grad mode off
  // (at least one hidden layer); with slopes, each hidden layer's act'(z_k)
  // is appended there, first layer first.
  torch::Tensor last_hidden_rows(const torch::Tensor& x, const torch::Tensor& t,
                                 std::vector<torch::Tensor>* slopes);
  void divergence_rows(const torch::Tensor& x, const torch::Tensor& t, torch::Tensor* v,
                       torch::Tensor* div);
  // Two (chunk, B, hidden) buffers the tangents alternate between.
  struct TangentBuffers {
    torch::Tensor a, b;
  };
  // Sum over the input dimensions [begin, begin + count) of d v_i / d x_i, per
  // row, from the hidden layers' activation slopes (each (B, hidden)).
  torch::Tensor divergence_chunk(const std::vector<torch::Tensor>& slopes, int64_t begin,
                                 int64_t count, TangentBuffers* buffers);

  int64_t data_dim_;
  MLPOptions options_;
  torch::nn::Sequential net_;
  std::vector<torch::nn::Linear> layers_;  // net_'s Linear layers, input to output
};
TORCH_MODULE(MLP);

}  // namespace fm
