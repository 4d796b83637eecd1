#include "fm/nn/mlp.h"

#include "fm/common/error.h"
#include "fm/nn/describe.h"
#include "fm/nn/time_embedding.h"

namespace fm {
namespace {

torch::nn::AnyModule make_activation(const std::string& name) {
  if (name == "silu") return torch::nn::AnyModule(torch::nn::SiLU());
  if (name == "relu") return torch::nn::AnyModule(torch::nn::ReLU());
  if (name == "gelu") return torch::nn::AnyModule(torch::nn::GELU());
  if (name == "tanh") return torch::nn::AnyModule(torch::nn::Tanh());
  if (name == "softplus") return torch::nn::AnyModule(torch::nn::Softplus());
  throw InputError("mlp: activation '" + name +
                   "' must be one of silu, relu, gelu, tanh, softplus");
}

int64_t time_features(const MLPOptions& options) {
  return options.time_embedding == "concat" ? 1 : options.time_embedding_dim;
}

// depth x [Linear, activation] -> Linear, as a Sequential so that parameter
// names ("net.0.weight", ...) match cfm_ref.py's nn.Sequential.
torch::nn::Sequential make_net(int64_t data_dim, const MLPOptions& options) {
  torch::nn::Sequential net;
  int64_t fan_in = data_dim + time_features(options);
  for (int64_t i = 0; i < options.depth; ++i) {
    net->push_back(torch::nn::Linear(fan_in, options.hidden));
    net->push_back(make_activation(options.activation));
    fan_in = options.hidden;
  }
  net->push_back(torch::nn::Linear(fan_in, data_dim));
  return net;
}

}  // namespace

MLPOptions read_mlp_options(ConfigSection& section) {
  MLPOptions o;
  o.hidden = section.integer("hidden", o.hidden, 1);
  o.depth = section.integer("depth", o.depth, 0);
  o.activation =
      section.choice("activation", o.activation, {"silu", "relu", "gelu", "tanh", "softplus"});
  o.time_embedding = section.choice("time_embedding", o.time_embedding, {"concat", "sinusoidal"});
  o.time_embedding_dim = section.integer("time_embedding_dim", o.time_embedding_dim, 2);
  if (o.time_embedding_dim % 2 != 0) {
    throw InputError("config: key '" + section.key_path("time_embedding_dim") +
                     "' = " + std::to_string(o.time_embedding_dim) + " must be even");
  }
  return o;
}

MLPImpl::MLPImpl(int64_t data_dim, MLPOptions options)
    : data_dim_(data_dim),
      options_(std::move(options)),
      net_(register_module("net", make_net(data_dim, options_))) {
  if (data_dim < 1) {
    throw InputError("mlp: data dimension " + std::to_string(data_dim) + " must be >= 1");
  }
}

torch::Tensor MLPImpl::forward(const torch::Tensor& x, const torch::Tensor& t) {
  if (x.dim() != 2 || x.size(1) != data_dim_ || t.dim() != 1 || t.size(0) != x.size(0)) {
    throw InputError("mlp: x " + shape_string(x.sizes().vec()) + " and t " +
                     shape_string(t.sizes().vec()) + " must be (B, " + std::to_string(data_dim_) +
                     ") and (B)");
  }
  auto t_x = t.to(x.options());
  auto time = options_.time_embedding == "concat"
                  ? t_x.unsqueeze(1)
                  : sinusoidal_embedding(t_x, options_.time_embedding_dim);
  return net_->forward(torch::cat({x, time.to(x.dtype())}, 1));
}

std::string MLPImpl::describe() const {
  std::string time = options_.time_embedding == "concat"
                         ? "t concat"
                         : "t sinusoidal(" + std::to_string(options_.time_embedding_dim) + ")";
  return "mlp " + std::to_string(options_.depth) + "x" + std::to_string(options_.hidden) + " " +
         options_.activation + ", " + time + ", " + with_thousands(parameter_count()) +
         " parameters";
}

}  // namespace fm
