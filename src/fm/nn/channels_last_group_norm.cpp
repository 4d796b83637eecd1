#include "fm/nn/channels_last_group_norm.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <vector>

#include "fm/common/vector_clones.h"

namespace fm::nn_detail {
namespace {

// The shape of a channels-last (N, C, H, W) tensor as the kernels see it: N
// samples, each a row-major (positions = H * W, channels) matrix.
struct Layout {
  int64_t batch, channels, positions, groups;
  int64_t per_group() const { return channels / groups; }
  int64_t sample_size() const { return positions * channels; }
};

// The kernels' inner loops run over the channels of one position, along
// contiguous memory, so that they vectorise. This file is compiled for the
// baseline x86-64 instruction set; the float loops are also compiled for AVX2
// and AVX-512 and picked at load time (fm/common/vector_clones.h): 3-4x
// faster than the baseline on this project's machines.

// kValuesAndProducts fills two accumulators, x and x * y, in one pass.
enum class Sum { kValues, kSquaredDeviations, kValuesAndProducts };

// acc[c] += over `rows` positions of: x, (x - m[c])^2, or x and (in
// acc[channels + c]) x * y.
template <Sum kind, typename T>
inline void add_rows(const T* __restrict x, const T* __restrict other, int64_t rows,
                     int64_t channels, T* __restrict acc) {
  for (int64_t p = 0; p < rows; ++p) {
    const T* row = x + p * channels;
    if constexpr (kind == Sum::kValues) {
      for (int64_t c = 0; c < channels; ++c) acc[c] += row[c];
    } else if constexpr (kind == Sum::kSquaredDeviations) {
      for (int64_t c = 0; c < channels; ++c) acc[c] += (row[c] - other[c]) * (row[c] - other[c]);
    } else {
      const T* row2 = other + p * channels;
      T* __restrict products = acc + channels;
      for (int64_t c = 0; c < channels; ++c) {
        acc[c] += row[c];
        products[c] += row[c] * row2[c];
      }
    }
  }
}

// out[p, c] = a[c] * in[p, c] + b[c] (+ d[c] * extra[p, c] when extra is given).
template <typename T>
inline void affine_rows(const T* __restrict in, const T* __restrict extra, T* __restrict out,
                        int64_t rows, int64_t channels, const T* a, const T* b, const T* d) {
  for (int64_t p = 0; p < rows; ++p) {
    const int64_t row = p * channels;
    if (extra == nullptr) {
      for (int64_t c = 0; c < channels; ++c) out[row + c] = a[c] * in[row + c] + b[c];
    } else {
      for (int64_t c = 0; c < channels; ++c) {
        out[row + c] = a[c] * in[row + c] + d[c] * extra[row + c] + b[c];
      }
    }
  }
}

FM_VECTOR_CLONES void add_values(const float* x, const float* other, int64_t rows, int64_t channels,
                                 float* acc) {
  add_rows<Sum::kValues>(x, other, rows, channels, acc);
}
FM_VECTOR_CLONES void add_squared_deviations(const float* x, const float* other, int64_t rows,
                                             int64_t channels, float* acc) {
  add_rows<Sum::kSquaredDeviations>(x, other, rows, channels, acc);
}
FM_VECTOR_CLONES void add_values_and_products(const float* x, const float* other, int64_t rows,
                                              int64_t channels, float* acc) {
  add_rows<Sum::kValuesAndProducts>(x, other, rows, channels, acc);
}
FM_VECTOR_CLONES void affine(const float* in, const float* extra, float* out, int64_t rows,
                             int64_t channels, const float* a, const float* b, const float* d) {
  affine_rows(in, extra, out, rows, channels, a, b, d);
}

template <Sum kind>
void add(const float* x, const float* other, int64_t rows, int64_t channels, float* acc) {
  if constexpr (kind == Sum::kValues) add_values(x, other, rows, channels, acc);
  if constexpr (kind == Sum::kSquaredDeviations)
    add_squared_deviations(x, other, rows, channels, acc);
  if constexpr (kind == Sum::kValuesAndProducts) {
    add_values_and_products(x, other, rows, channels, acc);
  }
}
template <Sum kind>
void add(const double* x, const double* other, int64_t rows, int64_t channels, double* acc) {
  add_rows<kind>(x, other, rows, channels, acc);
}
void affine(const double* in, const double* extra, double* out, int64_t rows, int64_t channels,
            const double* a, const double* b, const double* d) {
  affine_rows(in, extra, out, rows, channels, a, b, d);
}

// Positions summed in the tensor's type before adding to the double totals:
// float sums of 64 terms lose no more than a few units in the last place.
constexpr int64_t kSumBlock = 64;

// Per-channel sums over one sample's positions (kinds as add_rows), in
// double: channels values, or 2 x channels for kValuesAndProducts.
template <Sum kind, typename T>
std::vector<double> channel_sums(const Layout& l, const T* x, const T* other) {
  const int64_t width = kind == Sum::kValuesAndProducts ? 2 * l.channels : l.channels;
  std::vector<double> acc(width, 0.0);
  std::vector<T> block(width);
  for (int64_t p = 0; p < l.positions; p += kSumBlock) {
    std::fill(block.begin(), block.end(), T(0));
    const int64_t rows = std::min(kSumBlock, l.positions - p);
    const T* second = kind == Sum::kValuesAndProducts ? other + p * l.channels : other;
    add<kind>(x + p * l.channels, second, rows, l.channels, block.data());
    for (int64_t c = 0; c < width; ++c) acc[c] += block[c];
  }
  return acc;
}

// Sum of per-channel values over each channel's group.
std::vector<double> group_sums(const Layout& l, const std::vector<double>& per_channel) {
  std::vector<double> sums(l.groups, 0.0);
  for (int64_t c = 0; c < l.channels; ++c) sums[c / l.per_group()] += per_channel[c];
  return sums;
}

// out = a * in + b (+ d * extra) per channel, with coefficients in double;
// d is read only with extra.
template <typename T>
void channel_affine(const Layout& l, const T* in, const T* extra, T* out,
                    const std::vector<double>& a, const std::vector<double>& b,
                    const std::vector<double>& d) {
  const std::vector<T> at(a.begin(), a.end()), bt(b.begin(), b.end()), dt(d.begin(), d.end());
  affine(in, extra, out, l.positions, l.channels, at.data(), bt.data(), dt.data());
}

// One sample's forward pass: two-pass statistics in double (mean, then the
// squared deviations), then one scale-and-shift pass. Writes the group means
// and inverse standard deviations to mean[g], inv_std[g].
template <typename T>
void normalize_sample(const Layout& l, const T* x, T* y, const T* weight, const T* bias, double eps,
                      double* mean, double* inv_std) {
  const double count = static_cast<double>(l.positions * l.per_group());
  const auto sums = group_sums(l, channel_sums<Sum::kValues>(l, x, x));
  std::vector<double> channel_mean(l.channels);
  for (int64_t c = 0; c < l.channels; ++c) channel_mean[c] = sums[c / l.per_group()] / count;
  const std::vector<T> centre(channel_mean.begin(), channel_mean.end());
  const auto squares = group_sums(l, channel_sums<Sum::kSquaredDeviations>(l, x, centre.data()));
  std::vector<double> scale(l.channels), shift(l.channels), none;
  for (int64_t g = 0; g < l.groups; ++g) {
    mean[g] = sums[g] / count;
    inv_std[g] = 1.0 / std::sqrt(squares[g] / count + eps);
  }
  for (int64_t c = 0; c < l.channels; ++c) {
    const int64_t g = c / l.per_group();
    scale[c] = inv_std[g] * weight[c];
    shift[c] = bias[c] - mean[g] * scale[c];
  }
  channel_affine<T>(l, x, nullptr, y, scale, shift, none);
}

// One sample's backward pass. With xhat = (x - mean) * inv_std and
// dyw = dy * weight, per group (M values):
//   dx = inv_std * (dyw - sum(dyw) / M - xhat * sum(dyw * xhat) / M),
// which is per channel a * dy + d * x + b. Adds the sample's share of the
// weight and bias gradients to grad_weight, grad_bias.
template <typename T>
void backward_sample(const Layout& l, const T* x, const T* dy, T* dx, const T* weight,
                     const double* mean, const double* inv_std, double* grad_weight,
                     double* grad_bias) {
  const double count = static_cast<double>(l.positions * l.per_group());
  const auto sums = channel_sums<Sum::kValuesAndProducts>(l, dy, x);
  const double* dy_sum = sums.data();
  const double* dy_x_sum = sums.data() + l.channels;
  std::vector<double> dyw(l.channels), dyw_x(l.channels);
  for (int64_t c = 0; c < l.channels; ++c) {
    const int64_t g = c / l.per_group();
    dyw[c] = dy_sum[c] * weight[c];
    dyw_x[c] = dy_x_sum[c] * weight[c];
    grad_weight[c] += (dy_x_sum[c] - mean[g] * dy_sum[c]) * inv_std[g];
    grad_bias[c] += dy_sum[c];
  }
  const auto sum_dyw = group_sums(l, dyw);
  const auto sum_dyw_x = group_sums(l, dyw_x);
  std::vector<double> a(l.channels), b(l.channels), d(l.channels);
  for (int64_t c = 0; c < l.channels; ++c) {
    const int64_t g = c / l.per_group();
    // sum(dyw * xhat) over the group, from the sums of dyw * x and dyw.
    const double dyw_xhat = (sum_dyw_x[g] - mean[g] * sum_dyw[g]) * inv_std[g];
    const double k = inv_std[g] * dyw_xhat / count;  // coefficient of xhat / inv_std
    a[c] = inv_std[g] * weight[c];
    d[c] = -k * inv_std[g];
    b[c] = -inv_std[g] * sum_dyw[g] / count + k * inv_std[g] * mean[g];
  }
  channel_affine<T>(l, dy, x, dx, a, b, d);
}

Layout layout_of(const torch::Tensor& x, int64_t groups) {
  return {x.size(0), x.size(1), x.size(2) * x.size(3), groups};
}

void check(const torch::Tensor& x, int64_t groups, const torch::Tensor& weight,
           const torch::Tensor& bias) {
  TORCH_CHECK(is_channels_last_cpu(x) && groups >= 1 && x.size(1) % groups == 0 &&
                  weight.defined() && bias.defined() && weight.numel() == x.size(1) &&
                  bias.numel() == x.size(1),
              "group_norm_channels_last: unsupported input ", x.sizes());
}

// Forward kernel: y and the (N, groups) statistics in double.
struct Normalized {
  torch::Tensor y, mean, inv_std;
};

Normalized forward_kernel(const torch::Tensor& x, int64_t groups, const torch::Tensor& weight,
                          const torch::Tensor& bias, double eps) {
  const Layout l = layout_of(x, groups);
  Normalized out{torch::empty_like(x, torch::MemoryFormat::ChannelsLast),
                 torch::empty({l.batch, groups}, x.options().dtype(torch::kDouble)),
                 torch::empty({l.batch, groups}, x.options().dtype(torch::kDouble))};
  const auto w = weight.detach().to(x.scalar_type()).contiguous();
  const auto b = bias.detach().to(x.scalar_type()).contiguous();
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "group_norm_channels_last", [&] {
    const scalar_t* in = x.data_ptr<scalar_t>();
    scalar_t* y = out.y.data_ptr<scalar_t>();
    double* mean = out.mean.data_ptr<double>();
    double* inv_std = out.inv_std.data_ptr<double>();
    at::parallel_for(0, l.batch, 1, [&](int64_t begin, int64_t end) {
      for (int64_t n = begin; n < end; ++n) {
        normalize_sample(l, in + n * l.sample_size(), y + n * l.sample_size(),
                         w.data_ptr<scalar_t>(), b.data_ptr<scalar_t>(), eps, mean + n * groups,
                         inv_std + n * groups);
      }
    });
  });
  return out;
}

// GroupNorm on channels-last tensors as an autograd function. Its backward is
// first order only: under create_graph it recomputes LibTorch's GroupNorm and
// differentiates that instead.
class GroupNormChannelsLast : public torch::autograd::Function<GroupNormChannelsLast> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& bias,
                               int64_t groups, double eps) {
    auto normalized = forward_kernel(x, groups, weight, bias, eps);
    ctx->save_for_backward({x, weight, bias, normalized.mean, normalized.inv_std});
    ctx->saved_data["groups"] = groups;
    ctx->saved_data["eps"] = eps;
    return normalized.y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &weight = saved[1], &bias = saved[2];
    const int64_t groups = ctx->saved_data["groups"].toInt();
    const double eps = ctx->saved_data["eps"].toDouble();
    const auto dy = grads[0].contiguous(torch::MemoryFormat::ChannelsLast);
    if (torch::GradMode::is_enabled()) return differentiable_backward(saved, dy, groups, eps);

    const Layout l = layout_of(x, groups);
    auto dx = torch::empty_like(x, torch::MemoryFormat::ChannelsLast);
    // Per-thread partial weight and bias gradients, summed in a fixed order.
    const int64_t slots = at::get_num_threads();
    auto partial = torch::zeros({slots, 2, l.channels}, x.options().dtype(torch::kDouble));
    const auto w = weight.detach().to(x.scalar_type()).contiguous();
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "group_norm_channels_last_backward", [&] {
      const scalar_t* in = x.data_ptr<scalar_t>();
      const scalar_t* g = dy.data_ptr<scalar_t>();
      scalar_t* out = dx.data_ptr<scalar_t>();
      const double* mean = saved[3].data_ptr<double>();
      const double* inv_std = saved[4].data_ptr<double>();
      double* sums = partial.data_ptr<double>();
      const int64_t chunk = (l.batch + slots - 1) / slots;
      at::parallel_for(0, slots, 1, [&](int64_t begin, int64_t end) {
        for (int64_t s = begin; s < end; ++s) {
          double* grad_weight = sums + s * 2 * l.channels;
          for (int64_t n = s * chunk; n < std::min(l.batch, (s + 1) * chunk); ++n) {
            const int64_t start = n * l.sample_size();
            backward_sample(l, in + start, g + start, out + start, w.data_ptr<scalar_t>(),
                            mean + n * groups, inv_std + n * groups, grad_weight,
                            grad_weight + l.channels);
          }
        }
      });
    });
    const auto totals = partial.sum(0);
    return {dx, totals[0].to(weight.scalar_type()), totals[1].to(bias.scalar_type()),
            torch::Tensor(), torch::Tensor()};
  }

 private:
  // Recomputes LibTorch's GroupNorm from the saved inputs (which carry their
  // own history) and differentiates it with create_graph, so that the
  // gradients returned are themselves differentiable.
  static torch::autograd::variable_list differentiable_backward(
      const torch::autograd::variable_list& saved, const torch::Tensor& dy, int64_t groups,
      double eps) {
    std::vector<torch::Tensor> inputs;
    for (int i = 0; i < 3; ++i) {
      if (saved[i].requires_grad()) inputs.push_back(saved[i]);
    }
    auto y = torch::group_norm(saved[0].contiguous(), groups, saved[1], saved[2], eps);
    auto grads = torch::autograd::grad({y}, inputs, {dy}, /*retain_graph=*/true,
                                       /*create_graph=*/true);
    torch::autograd::variable_list out(5);
    for (int i = 0, k = 0; i < 3; ++i) {
      if (saved[i].requires_grad()) out[i] = grads[k++];
    }
    return out;
  }
};

}  // namespace

bool is_channels_last_cpu(const torch::Tensor& x) {
  return x.dim() == 4 && x.device().is_cpu() &&
         (x.scalar_type() == torch::kFloat || x.scalar_type() == torch::kDouble) &&
         x.is_contiguous(torch::MemoryFormat::ChannelsLast) && !x.is_contiguous();
}

torch::Tensor group_norm_channels_last(const torch::Tensor& x, int64_t groups,
                                       const torch::Tensor& weight, const torch::Tensor& bias,
                                       double eps) {
  check(x, groups, weight, bias);
  const bool recording = torch::GradMode::is_enabled() &&
                         (x.requires_grad() || weight.requires_grad() || bias.requires_grad());
  if (recording) return GroupNormChannelsLast::apply(x, weight, bias, groups, eps);
  return forward_kernel(x, groups, weight, bias, eps).y;
}

}  // namespace fm::nn_detail
