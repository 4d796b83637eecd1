#include "fm/nn/unet.h"

#include <algorithm>
#include <cmath>

#include "fm/common/error.h"
#include "fm/nn/channels_last_group_norm.h"
#include "fm/nn/describe.h"
#include "fm/nn/time_embedding.h"
#include "fm/nn/winograd_conv.h"

namespace fm {
namespace {

namespace F = torch::nn::functional;

torch::nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride = 1) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2));
}

torch::nn::GroupNorm group_norm(int64_t groups, int64_t channels) {
  return torch::nn::GroupNorm(torch::nn::GroupNormOptions(groups, channels));
}

// silu(norm(x)). Channels-last tensors take the channels-last kernel:
// LibTorch 1.13's GroupNorm is several times slower on them.
torch::Tensor norm_silu(torch::nn::GroupNorm& norm, const torch::Tensor& x) {
  if (nn_detail::is_channels_last_cpu(x) && norm->weight.defined()) {
    const auto& o = norm->options;
    auto y =
        nn_detail::group_norm_channels_last(x, o.num_groups(), norm->weight, norm->bias, o.eps());
    // In place only without autograd: SiLU's backward needs its input.
    return torch::GradMode::is_enabled() ? torch::silu(y) : torch::silu_(y);
  }
  return torch::silu(norm->forward(x));
}

[[noreturn]] void fail(const std::string& key, const std::string& value,
                       const std::string& required) {
  throw InputError("config: key 'model." + key + "' = " + value + " " + required);
}

// Checks what the options need of each other and of the data shape, before any
// module is built (GroupNorm and friends would fail with less helpful messages).
UNetOptions validated(const std::vector<int64_t>& shape, UNetOptions o) {
  if (shape.size() != 3 || *std::min_element(shape.begin(), shape.end()) < 1) {
    throw InputError("model: type 'unet' needs image data of shape (C, H, W), got data shape " +
                     shape_string(shape));
  }
  const int64_t levels = static_cast<int64_t>(o.channel_mult.size());
  if (levels < 1) fail("channel_mult", "[]", "must list at least one level");
  const int64_t factor = int64_t{1} << (levels - 1);
  if (shape[1] % factor != 0 || shape[2] % factor != 0) {
    fail("channel_mult", list_string(o.channel_mult),
         "has " + std::to_string(levels) + " levels, which need H and W divisible by " +
             std::to_string(factor) + "; data shape " + shape_string(shape) + " is not");
  }
  std::vector<int64_t> widths = {o.channels};
  for (int64_t m : o.channel_mult) widths.push_back(o.channels * m);
  for (int64_t w : widths) {
    if (w % o.groups != 0) {
      fail("groups", std::to_string(o.groups),
           "must divide every channel count, and " + std::to_string(w) + " is not divisible");
    }
  }
  for (int64_t r : o.attention_resolutions) {
    int64_t level = 0;
    while (level < levels && shape[1] / (int64_t{1} << level) != r) ++level;
    if (level == levels) {
      fail("attention_resolutions", list_string(o.attention_resolutions),
           "must hold level heights only; " + std::to_string(r) + " is not one for data shape " +
               shape_string(shape));
    }
    if (widths[level + 1] % o.num_heads != 0) {
      fail("num_heads", std::to_string(o.num_heads),
           "must divide the " + std::to_string(widths[level + 1]) + " channels attended at " +
               std::to_string(r));
    }
  }
  return o;
}

}  // namespace

UNetOptions read_unet_options(ConfigSection& section) {
  UNetOptions o;
  o.channels = section.integer("channels", o.channels, 1);
  o.channel_mult = section.integers("channel_mult", o.channel_mult, 1);
  o.num_res_blocks = section.integer("num_res_blocks", o.num_res_blocks, 1);
  o.attention_resolutions = section.integers("attention_resolutions", o.attention_resolutions, 1);
  o.num_heads = section.integer("num_heads", o.num_heads, 1);
  o.dropout = section.number("dropout", o.dropout, 0.0);
  o.groups = section.integer("groups", o.groups, 1);
  o.time_embedding_dim = section.integer("time_embedding_dim", o.time_embedding_dim, 2);
  o.time_hidden = section.integer("time_hidden", o.time_hidden, 1);
  if (o.dropout >= 1.0) fail("dropout", std::to_string(o.dropout), "must be >= 0 and < 1");
  if (o.time_embedding_dim % 2 != 0) {
    fail("time_embedding_dim", std::to_string(o.time_embedding_dim), "must be even");
  }
  return o;
}

ResBlockImpl::ResBlockImpl(int64_t in_channels, int64_t out_channels, int64_t time_hidden,
                           int64_t groups, double dropout)
    : norm1_(register_module("norm1", group_norm(groups, in_channels))),
      conv1_(register_module("conv1", conv(in_channels, out_channels, 3))),
      temb_(register_module("temb", torch::nn::Linear(time_hidden, out_channels))),
      norm2_(register_module("norm2", group_norm(groups, out_channels))),
      dropout_(register_module("dropout", torch::nn::Dropout(dropout))),
      conv2_(register_module("conv2", conv(out_channels, out_channels, 3))) {
  if (in_channels != out_channels) {
    skip_ = register_module("skip", conv(in_channels, out_channels, 1));
  }
}

torch::Tensor ResBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& temb) {
  // NOTE: the additions go in place into the convolutions' fresh outputs, which
  // their backward does not need: two fewer activation-sized temporaries.
  auto h = nn_detail::conv2d(*conv1_, norm_silu(norm1_, x));
  h.add_(temb_->forward(temb).unsqueeze(-1).unsqueeze(-1));
  h = nn_detail::conv2d(*conv2_, dropout_->forward(norm_silu(norm2_, h)));
  return h.add_(skip_ ? skip_->forward(x) : x);
}

AttentionBlockImpl::AttentionBlockImpl(int64_t channels, int64_t num_heads, int64_t groups)
    : num_heads_(num_heads),
      norm_(register_module("norm", group_norm(groups, channels))),
      qkv_(register_module("qkv", conv(channels, 3 * channels, 1))),
      proj_(register_module("proj", conv(channels, channels, 1))) {}

torch::Tensor AttentionBlockImpl::forward(const torch::Tensor& x) {
  const int64_t b = x.size(0), c = x.size(1), n = x.size(2) * x.size(3);
  const int64_t head_dim = c / num_heads_;
  // (B, 3C, H, W) -> (B, {q, k, v}, heads, head_dim, positions).
  auto qkv = qkv_->forward(norm_->forward(x)).reshape({b, 3, num_heads_, head_dim, n});
  auto q = qkv.select(1, 0), k = qkv.select(1, 1), v = qkv.select(1, 2);
  auto scores = q.transpose(2, 3).matmul(k) / std::sqrt(static_cast<double>(head_dim));
  auto weights = torch::softmax(scores, -1);     // (B, heads, queries, keys)
  auto out = v.matmul(weights.transpose(2, 3));  // (B, heads, head_dim, queries)
  return x + proj_->forward(out.reshape(x.sizes()));
}

UNetImpl::UNetImpl(const std::vector<int64_t>& data_shape, UNetOptions options)
    : data_shape_(data_shape),
      options_(validated(data_shape, std::move(options))),
      t_lin1_(register_module(
          "t_lin1", torch::nn::Linear(options_.time_embedding_dim, options_.time_hidden))),
      t_lin2_(
          register_module("t_lin2", torch::nn::Linear(options_.time_hidden, options_.time_hidden))),
      conv_in_(register_module("conv_in", conv(data_shape[0], options_.channels, 3))),
      down_blocks_(register_module("down_blocks", torch::nn::ModuleList())),
      down_attns_(register_module("down_attns", torch::nn::ModuleList())),
      downs_(register_module("downs", torch::nn::ModuleList())) {
  // NOTE: modules are created in cfm_ref.py's order (down path, middle, up
  // path, output), because creation order is initialisation order: the same
  // seed then gives the reference's initial weights.
  std::vector<int64_t> skip_channels;
  build_down(options_.channels, &skip_channels);
  const int64_t bottom = skip_channels.back();
  const int64_t levels = static_cast<int64_t>(skip_channels.size());
  const auto& o = options_;
  mid1_ = register_module("mid1", ResBlock(bottom, bottom, o.time_hidden, o.groups, o.dropout));
  if (has_attention(levels - 1)) {
    mid_attn_ = register_module("mid_attn", AttentionBlock(bottom, o.num_heads, o.groups));
  }
  mid2_ = register_module("mid2", ResBlock(bottom, bottom, o.time_hidden, o.groups, o.dropout));
  up_blocks_ = register_module("up_blocks", torch::nn::ModuleList());
  up_attns_ = register_module("up_attns", torch::nn::ModuleList());
  ups_ = register_module("ups", torch::nn::ModuleList());
  build_up(skip_channels);
  norm_out_ = register_module("norm_out", group_norm(o.groups, o.channels * o.channel_mult[0]));
  conv_out_ = register_module("conv_out", conv(o.channels * o.channel_mult[0], data_shape[0], 3));
}

bool UNetImpl::has_attention(int64_t level) const {
  const auto& r = options_.attention_resolutions;
  return std::find(r.begin(), r.end(), data_shape_[1] >> level) != r.end();
}

void UNetImpl::build_down(int64_t in_channels, std::vector<int64_t>* skip_channels) {
  const auto& o = options_;
  const int64_t levels = static_cast<int64_t>(o.channel_mult.size());
  for (int64_t level = 0; level < levels; ++level) {
    const int64_t c = o.channels * o.channel_mult[level];
    for (int64_t r = 0; r < o.num_res_blocks; ++r) {
      down_blocks_->push_back(ResBlock(in_channels, c, o.time_hidden, o.groups, o.dropout));
      if (has_attention(level)) down_attns_->push_back(AttentionBlock(c, o.num_heads, o.groups));
      in_channels = c;
    }
    skip_channels->push_back(c);
    if (level + 1 < levels) downs_->push_back(conv(c, c, 3, 2));
  }
}

void UNetImpl::build_up(const std::vector<int64_t>& skip_channels) {
  const auto& o = options_;
  int64_t in_channels = skip_channels.back();
  for (int64_t level = static_cast<int64_t>(skip_channels.size()) - 1; level >= 0; --level) {
    const int64_t c = skip_channels[level];
    for (int64_t r = 0; r < o.num_res_blocks; ++r) {
      // Only the level's first block sees the skip: one skip per level.
      const int64_t cin = r == 0 ? in_channels + c : c;
      up_blocks_->push_back(ResBlock(cin, c, o.time_hidden, o.groups, o.dropout));
      if (has_attention(level)) up_attns_->push_back(AttentionBlock(c, o.num_heads, o.groups));
    }
    in_channels = c;
    if (level > 0) ups_->push_back(conv(c, c, 3));
  }
}

torch::Tensor UNetImpl::time_features(const torch::Tensor& t) {
  auto e = sinusoidal_embedding(t, options_.time_embedding_dim);
  return t_lin2_->forward(torch::silu(t_lin1_->forward(e)));
}

torch::Tensor UNetImpl::forward(const torch::Tensor& x, const torch::Tensor& t) {
  check_input(x, t);
  const auto temb = time_features(t.to(x.options()));
  std::vector<torch::Tensor> skips;
  auto h = nn_detail::conv2d(*conv_in_, x);
  // Channels-last on the CPU: oneDNN's convolutions then skip their layout
  // reorders (docs/speed.md).
  if (channels_last_ && h.device().is_cpu()) {
    h = h.contiguous(torch::MemoryFormat::ChannelsLast);
  }
  h = forward_down(h, temb, &skips);
  h = mid1_->forward(h, temb);
  if (mid_attn_) h = mid_attn_->forward(h);
  h = mid2_->forward(h, temb);
  h = forward_up(h, temb, skips);
  return nn_detail::conv2d(*conv_out_, norm_silu(norm_out_, h)).contiguous();
}

void UNetImpl::check_input(const torch::Tensor& x, const torch::Tensor& t) const {
  const bool ok = x.dim() == 4 && x.sizes().slice(1).vec() == data_shape_ && t.dim() == 1 &&
                  t.size(0) == x.size(0);
  if (!ok) {
    throw InputError("unet: x " + shape_string(x.sizes().vec()) + " and t " +
                     shape_string(t.sizes().vec()) + " must be (B, " +
                     shape_string(data_shape_).substr(1) + " and (B)");
  }
}

torch::Tensor UNetImpl::forward_down(torch::Tensor h, const torch::Tensor& temb,
                                     std::vector<torch::Tensor>* skips) {
  const int64_t levels = static_cast<int64_t>(options_.channel_mult.size());
  size_t block = 0, attention = 0;
  for (int64_t level = 0; level < levels; ++level) {
    for (int64_t r = 0; r < options_.num_res_blocks; ++r) {
      h = down_blocks_->at<ResBlockImpl>(block++).forward(h, temb);
      if (has_attention(level)) h = down_attns_->at<AttentionBlockImpl>(attention++).forward(h);
    }
    skips->push_back(h);
    if (level + 1 < levels) h = downs_->at<torch::nn::Conv2dImpl>(level).forward(h);
  }
  return h;
}

torch::Tensor UNetImpl::forward_up(torch::Tensor h, const torch::Tensor& temb,
                                   const std::vector<torch::Tensor>& skips) {
  const int64_t levels = static_cast<int64_t>(skips.size());
  size_t block = 0, attention = 0, up = 0;
  for (int64_t level = levels - 1; level >= 0; --level) {
    for (int64_t r = 0; r < options_.num_res_blocks; ++r) {
      if (r == 0) h = torch::cat({h, skips[level]}, 1);
      h = up_blocks_->at<ResBlockImpl>(block++).forward(h, temb);
      if (has_attention(level)) h = up_attns_->at<AttentionBlockImpl>(attention++).forward(h);
    }
    if (level > 0) {
      h = F::interpolate(h, F::InterpolateFuncOptions()
                                .scale_factor(std::vector<double>{2.0, 2.0})
                                .mode(torch::kNearest));
      h = nn_detail::conv2d(ups_->at<torch::nn::Conv2dImpl>(up++), h);
    }
  }
  return h;
}

int64_t UNetImpl::divergence_rows_per_pass() const {
  // The graph of a forward pass grows with the activations of the res blocks
  // at every level: channels * mult * (H * W / 4^level) floats per image and
  // block. The graph's bytes per such float, measured on the default U-Net
  // (one res block a level; Fashion-MNIST, Hutchinson, RK4 10, batch 64
  // against 32: 232 MB less peak memory for 32 fewer images, 40,768 such
  // floats an image), are ~178: some 44 saved floats for each. An attention
  // block also keeps its scores and their softmax, 2 x heads x positions^2
  // floats, which the activation count does not cover.
  constexpr double kGraphBudgetBytes = 256.0 * 1024 * 1024;
  constexpr double kGraphBytesPerActivation = 178.0;
  const auto& o = options_;
  const int64_t levels = static_cast<int64_t>(o.channel_mult.size());
  double bytes = 0.0, area = static_cast<double>(data_shape_[1] * data_shape_[2]);
  for (int64_t level = 0; level < levels; ++level) {
    const double blocks = static_cast<double>(o.num_res_blocks);
    bytes += kGraphBytesPerActivation * static_cast<double>(o.channels * o.channel_mult[level]) *
             area * blocks;
    if (has_attention(level)) {
      // After every res block down and up, and between the middle blocks.
      const double attention_blocks = 2.0 * blocks + (level + 1 == levels ? 1.0 : 0.0);
      bytes += attention_blocks * 2.0 * static_cast<double>(o.num_heads) * area * area *
               static_cast<double>(sizeof(float));
    }
    area /= 4.0;
  }
  return std::max<int64_t>(1, static_cast<int64_t>(kGraphBudgetBytes / bytes));
}

std::string UNetImpl::describe() const {
  const auto& o = options_;
  std::string text = "unet " + std::to_string(o.channels) + "x" + list_string(o.channel_mult) +
                     ", " + std::to_string(o.num_res_blocks) + " res/level";
  if (!o.attention_resolutions.empty()) {
    text += ", attention at " + list_string(o.attention_resolutions) + " with " +
            std::to_string(o.num_heads) + " head(s)";
  }
  if (o.dropout > 0) text += ", dropout " + std::to_string(o.dropout);
  return text + ", " + with_thousands(parameter_count()) + " parameters";
}

}  // namespace fm
