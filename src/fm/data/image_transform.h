// Image transforms between 8-bit pixels and the model space (DESIGN: maths
// conventions). Pixels p in {0..255} are dequantised
//   y = (p + u) / 256,  u ~ U[0, 1)^D,
// then mapped by one invertible transform, whose log-determinant is returned:
//   affine   x = 2 y - 1                                   (to [-1, 1])
//   logit    s = alpha + (1 - 2 alpha) y,  x = log s - log(1 - s)
#pragma once

#include <torch/torch.h>

#include <string>

namespace fm {

struct ImageTransformOptions {
  std::string kind = "affine";  // "affine" ([-1, 1]) or "logit"
  double alpha = 1e-6;          // logit only: squeeze into [alpha, 1 - alpha]
};

struct DequantizedBatch {
  torch::Tensor x;               // (B, ...) model-space values
  torch::Tensor log_det_dx_dy;   // (B,) log|det dx/dy| summed over dimensions
};

// pixels: (B, ...) uint8 or float holding integers 0..255; noise u in [0,1) like pixels.
DequantizedBatch dequantize(const torch::Tensor& pixels, const torch::Tensor& noise,
                            const ImageTransformOptions& options);

// Maps model-space values back to [0, 1] pixel fractions (inverse of the transform
// without the noise), for writing samples.
torch::Tensor model_to_unit_interval(const torch::Tensor& x, const ImageTransformOptions& options);

}  // namespace fm
