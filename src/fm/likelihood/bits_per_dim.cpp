#include "fm/likelihood/bits_per_dim.h"

#include <cmath>
#include <string>

#include "fm/common/error.h"

namespace fm {

BitsPerDim bits_per_dim(const torch::Tensor& log_p_model, const torch::Tensor& log_det_dx_dy,
                        int64_t dims) {
  if (dims < 1) {
    throw InputError("bits_per_dim: dims=" + std::to_string(dims) + " must be >= 1");
  }
  if (!log_p_model.defined() || !log_det_dx_dy.defined() || log_p_model.dim() != 1 ||
      log_p_model.sizes() != log_det_dx_dy.sizes()) {
    throw InputError("bits_per_dim: log_p_model and log_det_dx_dy must both have shape (B,)");
  }
  const double d = static_cast<double>(dims);

  // Change of variables from model space x back to the dequantised y in [0, 1)^D.
  torch::Tensor log_p_y = log_p_model + log_det_dx_dy;
  // y = (pixel + u) / 256: the density on the 0..256 pixel scale is 256^-D times p(y).
  const double log_256_per_example = d * std::log(256.0);

  BitsPerDim result;
  result.nll_model_nats = -log_p_model;
  result.nll_pixel_nats = -log_p_y + log_256_per_example;
  result.bits_per_dim = result.nll_pixel_nats / (d * std::log(2.0));
  return result;
}

}  // namespace fm
