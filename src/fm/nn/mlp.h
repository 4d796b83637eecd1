// Multilayer perceptron velocity network for flat data, v(x, t) with x: (B, D).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>

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
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& t) override;
  // e.g. "mlp 4x256 silu, t concat, 198,914 parameters".
  std::string describe() const override;

  const MLPOptions& options() const { return options_; }

 private:
  int64_t data_dim_;
  MLPOptions options_;
  torch::nn::Sequential net_;
};
TORCH_MODULE(MLP);

}  // namespace fm
