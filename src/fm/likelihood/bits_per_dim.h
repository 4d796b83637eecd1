// Image likelihood in bits per dimension, in the space of 8-bit pixels
// (DESIGN: maths conventions). Pixels are dequantised and mapped to the model
// space x by data/image_transform.h, which returns log|det dx/dy|. With
// log p_model(x) from the flow,
//   log p(y) = log p_model(x) + log|det dx/dy|
//   NLL_pixel = -log p(y) + D log 256   (density on the 0..256 continuous pixel scale)
//   bpd = NLL_pixel / (D ln 2).
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace fm {

struct BitsPerDim {
  torch::Tensor nll_model_nats;  // (B,) -log p_model(x)
  torch::Tensor nll_pixel_nats;  // (B,) -log p(y) + D log 256
  torch::Tensor bits_per_dim;    // (B,)
};

// log_p_model: (B,) from the flow; log_det_dx_dy: (B,); dims: D per example.
BitsPerDim bits_per_dim(const torch::Tensor& log_p_model, const torch::Tensor& log_det_dx_dy,
                        int64_t dims);

}  // namespace fm
