// U-Net velocity network for images, v(x, t) with x: (B, C, H, W).
//
// With the default options this is exactly cfm_ref.py's UNet (same modules,
// parameter names, construction order and so the same initial weights for the
// same seed): 776,929 parameters for 1x28x28 inputs.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "fm/config/section.h"
#include "fm/nn/velocity_model.h"

namespace fm {

struct UNetOptions {
  // Base channel count; level i has channels * channel_mult[i] channels.
  int64_t channels = 32;
  // One entry per resolution level; every level but the last halves H and W.
  std::vector<int64_t> channel_mult = {1, 2, 2};
  // Res blocks per level on the way down (and up). One skip per level.
  int64_t num_res_blocks = 1;
  // Spatial sizes (heights) at which self-attention follows every res block,
  // e.g. {7}; each must be the height of some level.
  std::vector<int64_t> attention_resolutions = {};
  // Attention heads; must divide the channel count where attention runs.
  int64_t num_heads = 1;
  // Dropout probability inside res blocks (before their second conv).
  double dropout = 0.0;
  // GroupNorm groups; must divide every normalised channel count.
  int64_t groups = 8;
  // Sinusoidal time features (even; frequency scale 1000 as in cfm_ref.py).
  int64_t time_embedding_dim = 32;
  // Width of the time MLP: Linear(dim, hidden) -> SiLU -> Linear(hidden, hidden).
  int64_t time_hidden = 128;
};

// Reads the U-Net keys of the "model" section (type excepted; the caller reads
// it and calls finish()). Throws InputError naming model.<key>.
UNetOptions read_unet_options(ConfigSection& section);

// Res(cin, cout): h = Conv3x3(SiLU(GN(x))); h += Linear(temb)[:, :, None, None];
// h = Conv3x3(Dropout(SiLU(GN(h)))); out = h + (Conv1x1(x) if cin != cout else x).
// Submodules norm1, conv1, temb, norm2, conv2[, skip] as in cfm_ref.py.
class ResBlockImpl : public torch::nn::Module {
 public:
  ResBlockImpl(int64_t in_channels, int64_t out_channels, int64_t time_hidden, int64_t groups,
               double dropout);
  // x: (B, cin, H, W); temb: (B, time_hidden). Returns (B, cout, H, W).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& temb);

 private:
  torch::nn::GroupNorm norm1_;
  torch::nn::Conv2d conv1_;
  torch::nn::Linear temb_;
  torch::nn::GroupNorm norm2_;
  torch::nn::Dropout dropout_;
  torch::nn::Conv2d conv2_;
  torch::nn::Conv2d skip_{nullptr};  // only when cin != cout
};
TORCH_MODULE(ResBlock);

// Self-attention over the H x W positions with a residual connection:
//   h = GN(x); [q, k, v] = Conv1x1(h) (3C channels: all of q, then k, then v,
//   each split into num_heads contiguous groups of C / num_heads channels);
//   per head a = softmax(q^T k / sqrt(C / num_heads)) over positions;
//   out = x + Conv1x1(concat of heads (v a^T)).
// This is torch.nn.MultiheadAttention's head layout, with in_proj = qkv and
// out_proj = proj. Submodules norm, qkv, proj.
class AttentionBlockImpl : public torch::nn::Module {
 public:
  AttentionBlockImpl(int64_t channels, int64_t num_heads, int64_t groups);
  // x: (B, C, H, W). Returns (B, C, H, W).
  torch::Tensor forward(const torch::Tensor& x);

 private:
  int64_t num_heads_;
  torch::nn::GroupNorm norm_;
  torch::nn::Conv2d qkv_;
  torch::nn::Conv2d proj_;
};
TORCH_MODULE(AttentionBlock);

// temb = t_lin2(SiLU(t_lin1(sinusoidal(t)))); conv_in; down levels of
// num_res_blocks res blocks (+ attention), a skip after each level's last
// block and a stride-2 Conv3x3 between levels; middle Res, [Attention,] Res;
// up levels whose first res block takes concat(h, skip), then nearest x2
// + Conv3x3 between levels; GN -> SiLU -> Conv3x3 out.
class UNetImpl : public VelocityModel {
 public:
  // data_shape: {C, H, W}; H and W divisible by 2^(levels - 1). Throws
  // InputError naming model.<key> for options the shape cannot take.
  UNetImpl(const std::vector<int64_t>& data_shape, UNetOptions options);

  // x: (B, C, H, W); t: (B,). Returns (B, C, H, W). Throws InputError on other shapes.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& t) override;
  // e.g. "unet 32x[1, 2, 2], 1 res/level, attn [], 776,929 parameters".
  std::string describe() const override;
  // No: oneDNN's convolutions (LibTorch's, on the CPU) are not safe inside a
  // parallel region. A primitive planned for two threads ran nested on one and
  // waited for its second thread forever (LibTorch 1.13, oneDNN 2.6).
  bool trains_in_row_slices() const override { return false; }
  // Enough images that one pass's graph stays near 256 MiB (at least 1), by
  // an estimate from the activations of its res blocks and the scores of its
  // attention blocks: 36 for the default U-Net on 28x28 images, whose graph
  // holds ~7.2 MB an image.
  int64_t divergence_rows_per_pass() const override;

  const UNetOptions& options() const { return options_; }

  // Whether forward() runs the network channels-last (NHWC) on the CPU, with
  // its own GroupNorm kernel: on by default, faster there (docs/speed.md).
  // Off: NCHW as LibTorch's modules run it. Results agree to rounding.
  void set_channels_last(bool on) { channels_last_ = on; }
  bool channels_last() const { return channels_last_; }

 private:
  void build_down(int64_t in_channels, std::vector<int64_t>* skip_channels);
  void build_up(const std::vector<int64_t>& skip_channels);
  bool has_attention(int64_t level) const;
  void check_input(const torch::Tensor& x, const torch::Tensor& t) const;
  torch::Tensor time_features(const torch::Tensor& t);
  // Runs the down path, pushing one skip per level; returns the bottom features.
  torch::Tensor forward_down(torch::Tensor h, const torch::Tensor& temb,
                             std::vector<torch::Tensor>* skips);
  // Runs the up path from the bottom features, consuming the skips.
  torch::Tensor forward_up(torch::Tensor h, const torch::Tensor& temb,
                           const std::vector<torch::Tensor>& skips);

  std::vector<int64_t> data_shape_;
  UNetOptions options_;
  bool channels_last_ = true;
  torch::nn::Linear t_lin1_;
  torch::nn::Linear t_lin2_;
  torch::nn::Conv2d conv_in_;
  torch::nn::ModuleList down_blocks_, down_attns_, downs_;  // filled in the constructor
  ResBlock mid1_{nullptr};
  AttentionBlock mid_attn_{nullptr};
  ResBlock mid2_{nullptr};
  torch::nn::ModuleList up_blocks_{nullptr}, up_attns_{nullptr}, ups_{nullptr};
  torch::nn::GroupNorm norm_out_{nullptr};
  torch::nn::Conv2d conv_out_{nullptr};
};
TORCH_MODULE(UNet);

}  // namespace fm
