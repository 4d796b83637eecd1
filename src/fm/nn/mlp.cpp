#include "fm/nn/mlp.h"

#include <algorithm>
#include <functional>

#include "fm/common/error.h"
#include "fm/common/row_slices.h"
#include "fm/nn/activation.h"
#include "fm/nn/describe.h"
#include "fm/nn/matmul.h"
#include "fm/nn/time_embedding.h"

namespace fm {
namespace {

// Bytes of tangents (input dimensions x rows x hidden) handled at once by
// velocity_and_divergence(): a chunk of input dimensions shares each product.
constexpr int64_t kTangentChunkBytes = int64_t{1} << 20;

// Largest activation block (rows x hidden) a sampling forward pass works on at
// once. A layer reads one block and writes another, so with two threads the
// four live blocks (20 MiB) stay inside a 32 MiB L3 cache; whole 5,000-row
// slices of a 512-wide layer did not, and measured 3-4% slower on tabular8
// sampling (docs/speed.md).
constexpr int64_t kInferenceBlockBytes = int64_t{5} << 20;

// Fewest rows worth a thread of their own in for_row_slices().
constexpr int64_t kMinSliceRows = 256;

// Calls fn(begin, count) on consecutive ranges of `rows` rows of at most
// `block` rows each, spread over the intra-op threads: one contiguous slice
// per thread (fm/common/row_slices.h). Inside, LibTorch and the BLAS run
// single-threaded (nested parallelism is off), so a whole forward pass is one
// parallel region instead of one per operation: no thread hand-offs between
// the small operations, and far less sensitivity to other processes competing
// for the cores. A GPU takes the whole batch at once.
void for_row_slices(const torch::Device& device, int64_t rows, int64_t block,
                    const std::function<void(int64_t, int64_t)>& fn) {
  run_row_slices(rows, row_slice_count(rows, kMinSliceRows, device),
                 [&](int64_t, int64_t begin, int64_t count) {
                   for (int64_t b = begin; b < begin + count; b += block) {
                     fn(b, std::min(block, begin + count - b));
                   }
                 });
}

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
  for (const auto& module : net_->children()) {
    if (auto linear = std::dynamic_pointer_cast<torch::nn::LinearImpl>(module)) {
      layers_.emplace_back(linear);
    }
  }
}

void MLPImpl::check_input(const torch::Tensor& x, const torch::Tensor& t) const {
  if (x.dim() != 2 || x.size(1) != data_dim_ || t.dim() != 1 || t.size(0) != x.size(0)) {
    throw InputError("mlp: x " + shape_string(x.sizes().vec()) + " and t " +
                     shape_string(t.sizes().vec()) + " must be (B, " + std::to_string(data_dim_) +
                     ") and (B)");
  }
}

torch::Tensor MLPImpl::network_input(const torch::Tensor& x, const torch::Tensor& t) const {
  const auto t_x = t.to(x.options());
  const auto time = options_.time_embedding == "concat"
                        ? t_x.unsqueeze(1)
                        : sinusoidal_embedding(t_x, options_.time_embedding_dim);
  return torch::cat({x, time.to(x.dtype())}, 1);
}

torch::Tensor MLPImpl::forward(const torch::Tensor& x, const torch::Tensor& t) {
  check_input(x, t);
  if (!torch::GradMode::is_enabled()) return inference_forward(x, t);
  // net_'s layers, with products from matmul.h instead of net_->forward().
  auto h = network_input(x, t);
  for (size_t k = 0; k + 1 < layers_.size(); ++k) {
    h = nn_detail::activate(nn_detail::linear(h, layers_[k]->weight, layers_[k]->bias),
                            options_.activation);
  }
  return nn_detail::linear(h, layers_.back()->weight, layers_.back()->bias);
}

torch::Tensor MLPImpl::first_preactivation(const torch::Tensor& x, const torch::Tensor& t,
                                           torch::Tensor* pending_bias) {
  const auto& weight = layers_.front()->weight;
  const auto& bias = layers_.front()->bias;
  const auto w_x = weight.narrow(1, 0, data_dim_);
  const auto w_t = weight.narrow(1, data_dim_, weight.size(1) - data_dim_);
  const auto t_x = t.to(x.options());
  // x's product, with the bias or (for the caller to add) without it.
  auto product_and = [&](const torch::Tensor& b) {
    if (pending_bias == nullptr) return nn_detail::affine(x, w_x, b);
    *pending_bias = b;
    return nn_detail::product(x, w_x.t());
  };
  if (options_.time_embedding != "concat") {
    auto e = sinusoidal_embedding(t_x, options_.time_embedding_dim);
    auto z = product_and(bias);
    nn_detail::product_out(z, e, w_t.t(), /*accumulate=*/true);
    return z;
  }
  // A solver calls with one t for the whole batch: t's column becomes bias.
  const auto t_first = t_x.select(0, 0);
  if (t_x.eq(t_first).all().item<bool>()) {
    return product_and(bias + t_first * w_t.select(1, 0));
  }
  if (pending_bias != nullptr) *pending_bias = torch::Tensor();
  return nn_detail::affine(x, w_x, bias).addr_(t_x, w_t.select(1, 0));
}

torch::Tensor MLPImpl::inference_forward(const torch::Tensor& x, const torch::Tensor& t) {
  auto v = torch::empty_like(x, torch::MemoryFormat::Contiguous);
  const int64_t width =
      std::max(options_.hidden, data_dim_) * static_cast<int64_t>(x.element_size());
  const int64_t block = std::max(kMinSliceRows, kInferenceBlockBytes / width);
  for_row_slices(x.device(), x.size(0), block, [&](int64_t begin, int64_t count) {
    auto rows = forward_rows(x.narrow(0, begin, count), t.narrow(0, begin, count));
    v.narrow(0, begin, count).copy_(rows);
  });
  return v;
}

torch::Tensor MLPImpl::forward_rows(const torch::Tensor& x, const torch::Tensor& t) {
  if (layers_.size() == 1) return first_preactivation(x, t);  // the output layer alone
  const auto h = last_hidden_rows(x, t, /*slopes=*/nullptr);
  return nn_detail::affine(h, layers_.back()->weight, layers_.back()->bias);
}

torch::Tensor MLPImpl::last_hidden_rows(const torch::Tensor& x, const torch::Tensor& t,
                                        std::vector<torch::Tensor>* slopes) {
  // Each product without the bias, which is added with the activation in one
  // pass (add_bias_activate_ and its slope-keeping twin).
  torch::Tensor bias;
  auto h = first_preactivation(x, t, &bias);
  for (size_t k = 0; k + 1 < layers_.size(); ++k) {
    if (k > 0) {
      h = nn_detail::product(h, layers_[k]->weight.t());
      bias = layers_[k]->bias;
    }
    if (slopes == nullptr) {
      h = nn_detail::add_bias_activate_(h, bias, options_.activation);
      continue;
    }
    auto activated = nn_detail::add_bias_activate_with_slope_(h, bias, options_.activation);
    h = activated.value;
    slopes->push_back(activated.slope);
  }
  return h;
}

bool MLPImpl::velocity_and_divergence(const torch::Tensor& x, const torch::Tensor& t,
                                      torch::Tensor* v, torch::Tensor* div) {
  check_input(x, t);
  torch::NoGradGuard no_grad;
  // One slice of rows per thread, each with single-threaded products: on the
  // 2-core bench machine 11% (toy2d) and 24% (tabular8) faster than the whole
  // batch with every product spread over the threads, and cache-sized blocks
  // within a slice gained nothing more (docs/speed.md).
  const int64_t rows = x.size(0);
  *v = torch::empty_like(x, torch::MemoryFormat::Contiguous);
  *div = torch::empty({rows}, x.options());
  for_row_slices(x.device(), rows, /*block=*/rows, [&](int64_t begin, int64_t count) {
    torch::Tensor v_rows, div_rows;
    divergence_rows(x.narrow(0, begin, count), t.narrow(0, begin, count), &v_rows, &div_rows);
    v->narrow(0, begin, count).copy_(v_rows);
    div->narrow(0, begin, count).copy_(div_rows);
  });
  return true;
}

void MLPImpl::divergence_rows(const torch::Tensor& x, const torch::Tensor& t, torch::Tensor* v,
                              torch::Tensor* div) {
  const int64_t batch = x.size(0), hidden = options_.hidden;
  if (layers_.size() == 1) {  // v = W [x, e(t)] + b: div v = trace(W_x) everywhere
    *v = first_preactivation(x, t);
    *div = layers_[0]->weight.narrow(1, 0, data_dim_).diagonal().sum().expand({batch}).clone();
    return;
  }

  // Forward pass, keeping every hidden layer's activation slope act'(z_k).
  std::vector<torch::Tensor> slopes;
  const auto h = last_hidden_rows(x, t, &slopes);
  *v = nn_detail::affine(h, layers_.back()->weight, layers_.back()->bias);

  // Tangents, a chunk of input dimensions at a time, in two reused buffers.
  const int64_t bytes_per_dim = batch * hidden * static_cast<int64_t>(x.element_size());
  const int64_t chunk = std::clamp<int64_t>(kTangentChunkBytes / bytes_per_dim, 1, data_dim_);
  TangentBuffers buffers{torch::empty({chunk, batch, hidden}, x.options()),
                         torch::empty({chunk, batch, hidden}, x.options())};
  *div = torch::zeros({batch}, x.options());
  for (int64_t begin = 0; begin < data_dim_; begin += chunk) {
    div->add_(divergence_chunk(slopes, begin, std::min(chunk, data_dim_ - begin), &buffers));
  }
}

torch::Tensor MLPImpl::divergence_chunk(const std::vector<torch::Tensor>& slopes, int64_t begin,
                                        int64_t count, TangentBuffers* buffers) {
  const int64_t batch = slopes[0].size(0), hidden = options_.hidden;
  auto tangent = buffers->a.narrow(0, 0, count), next = buffers->b.narrow(0, 0, count);
  // First hidden layer: d h_1 / d x_i = act'(z_1) * W_1[:, i], no product needed.
  // The columns copied out contiguous: LibTorch's broadcasting multiply takes a
  // scalar loop over a strided operand (3-4% of a toy2d likelihood run).
  const auto w_in = layers_.front()->weight.narrow(1, begin, count).t().contiguous();  // (count, H)
  torch::mul_out(tangent, slopes[0].unsqueeze(0), w_in.unsqueeze(1));  // (count, B, hidden)

  // Later hidden layers: one product for all `count` tangents, then the slope.
  for (size_t k = 1; k < slopes.size(); ++k) {
    auto rows = next.view({count * batch, hidden});
    nn_detail::product_out(rows, tangent.view({count * batch, hidden}), layers_[k]->weight.t());
    next.mul_(slopes[k]);
    std::swap(tangent, next);
  }

  // Output layer: only d v_i / d x_i, i.e. row i of W_out against tangent i.
  const auto w_out = layers_.back()->weight.narrow(0, begin, count).unsqueeze(2);  // (count, H, 1)
  return torch::bmm(tangent, w_out).sum(0).squeeze(1);
}

bool MLPImpl::regression_gradient(const torch::Tensor& x, const torch::Tensor& t,
                                  const torch::Tensor& u, double scale,
                                  std::vector<torch::Tensor>* grads, torch::Tensor* loss) {
  check_input(x, t);
  if (u.sizes() != x.sizes()) {
    throw InputError("mlp: target u " + shape_string(u.sizes().vec()) + " must be shaped like x " +
                     shape_string(x.sizes().vec()));
  }
  torch::NoGradGuard no_grad;
  // Forward: each layer's input, and for each hidden layer its activation's
  // slope where SiLU's one-pass kernel gives it with the value (the backward
  // step is then one multiply), or else its pre-activation, which the other
  // activations' backward kernels take.
  const size_t n_layers = layers_.size();
  std::vector<torch::Tensor> inputs(n_layers), pre(n_layers), slopes(n_layers);
  inputs[0] = network_input(x, t);
  for (size_t k = 0; k + 1 < n_layers; ++k) {
    const auto& bias = layers_[k]->bias;
    auto z = nn_detail::product(inputs[k], layers_[k]->weight.t());
    // Asked here, not left to add_bias_activate_with_slope_(): for the other
    // activations that would take the slope in a pass of its own, which
    // measured slower than their backward kernels (docs/speed.md).
    if (nn_detail::takes_fused_silu(z, bias, options_.activation)) {
      auto activated = nn_detail::add_bias_activate_with_slope_(z, bias, options_.activation);
      inputs[k + 1] = activated.value;
      slopes[k] = activated.slope;
    } else {
      pre[k] = bias.defined() ? z.add_(bias) : z;
      inputs[k + 1] = nn_detail::activate(pre[k], options_.activation);
    }
  }
  auto v = nn_detail::affine(inputs.back(), layers_.back()->weight, layers_.back()->bias);

  // d/dv of scale * sum((v - u)^2) = 2 scale (v - u).
  auto diff = v.sub_(u);
  *loss = diff.square().sum().mul_(scale);
  auto grad = diff.mul_(2.0 * scale);

  grads->assign(2 * n_layers, torch::Tensor());
  for (size_t k = n_layers; k-- > 0;) {
    (*grads)[2 * k] = nn_detail::product(grad.t(), inputs[k]);
    (*grads)[2 * k + 1] = grad.sum(0);
    if (k == 0) break;
    auto back = nn_detail::product(grad, layers_[k]->weight);
    grad = slopes[k - 1].defined()
               ? back.mul_(slopes[k - 1])
               : nn_detail::activation_backward(back, pre[k - 1], inputs[k], options_.activation);
  }
  return true;
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
