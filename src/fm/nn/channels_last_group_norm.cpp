#include "fm/nn/channels_last_group_norm.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <vector>

namespace fm::nn_detail {
namespace {

// One sample: x and y are (HW, C) row-major. The loops over c are the inner
// ones so that they run along contiguous memory and vectorise.
template <typename T>
void normalize_sample(const T* x, T* y, int64_t positions, int64_t channels, int64_t groups,
                      const T* weight, const T* bias, double eps) {
  const int64_t per_group = channels / groups;
  const double count = static_cast<double>(positions * per_group);
  std::vector<double> acc(channels, 0.0), mean(channels), scale(channels), shift(channels);

  for (int64_t p = 0; p < positions; ++p) {
    const T* row = x + p * channels;
    for (int64_t c = 0; c < channels; ++c) acc[c] += row[c];
  }
  for (int64_t g = 0; g < groups; ++g) {
    double sum = 0;
    for (int64_t c = g * per_group; c < (g + 1) * per_group; ++c) sum += acc[c];
    for (int64_t c = g * per_group; c < (g + 1) * per_group; ++c) mean[c] = sum / count;
  }

  std::fill(acc.begin(), acc.end(), 0.0);
  for (int64_t p = 0; p < positions; ++p) {
    const T* row = x + p * channels;
    for (int64_t c = 0; c < channels; ++c) {
      const double d = row[c] - mean[c];
      acc[c] += d * d;
    }
  }
  for (int64_t g = 0; g < groups; ++g) {
    double sum = 0;
    for (int64_t c = g * per_group; c < (g + 1) * per_group; ++c) sum += acc[c];
    const double inv_std = 1.0 / std::sqrt(sum / count + eps);
    for (int64_t c = g * per_group; c < (g + 1) * per_group; ++c) {
      scale[c] = inv_std * weight[c];
      shift[c] = bias[c] - mean[c] * scale[c];
    }
  }

  std::vector<T> scale_t(scale.begin(), scale.end()), shift_t(shift.begin(), shift.end());
  for (int64_t p = 0; p < positions; ++p) {
    const T* row = x + p * channels;
    T* out = y + p * channels;
    for (int64_t c = 0; c < channels; ++c) out[c] = row[c] * scale_t[c] + shift_t[c];
  }
}

}  // namespace

bool serves_channels_last(const torch::Tensor& x) {
  return x.dim() == 4 && x.device().is_cpu() &&
         (x.scalar_type() == torch::kFloat || x.scalar_type() == torch::kDouble) &&
         x.is_contiguous(torch::MemoryFormat::ChannelsLast) && !x.is_contiguous() &&
         !torch::GradMode::is_enabled();
}

torch::Tensor group_norm_channels_last(const torch::Tensor& x, int64_t groups,
                                       const torch::Tensor& weight, const torch::Tensor& bias,
                                       double eps) {
  const int64_t batch = x.size(0), channels = x.size(1), positions = x.size(2) * x.size(3);
  TORCH_CHECK(serves_channels_last(x) && groups >= 1 && channels % groups == 0 &&
                  weight.numel() == channels && bias.numel() == channels,
              "group_norm_channels_last: unsupported input ", x.sizes());
  auto y = torch::empty_like(x, torch::MemoryFormat::ChannelsLast);
  const auto w = weight.to(x.scalar_type()).contiguous();
  const auto b = bias.to(x.scalar_type()).contiguous();
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "group_norm_channels_last", [&] {
    const scalar_t* in = x.data_ptr<scalar_t>();
    scalar_t* out = y.data_ptr<scalar_t>();
    const int64_t stride = positions * channels;
    at::parallel_for(0, batch, 1, [&](int64_t begin, int64_t end) {
      for (int64_t n = begin; n < end; ++n) {
        normalize_sample(in + n * stride, out + n * stride, positions, channels, groups,
                         w.data_ptr<scalar_t>(), b.data_ptr<scalar_t>(), eps);
      }
    });
  });
  return y;
}

}  // namespace fm::nn_detail
