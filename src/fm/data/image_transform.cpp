#include "fm/data/image_transform.h"

#include <cmath>

#include "fm/common/error.h"

namespace fm {
namespace {

void validate(const ImageTransformOptions& options) {
  if (options.kind != "affine" && options.kind != "logit") {
    throw InputError("image_transform: kind '" + options.kind +
                     "' is unknown; valid: affine, logit");
  }
  if (options.kind == "logit" && !(options.alpha >= 0.0 && options.alpha < 0.5)) {
    throw InputError("image_transform: alpha=" + std::to_string(options.alpha) +
                     " must be in [0, 0.5)");
  }
}

// Values are checked, not clamped: a pixel outside 0..255 means a wrong file or scale.
void check_range(const torch::Tensor& x, double low, double high, bool high_open,
                 const char* what) {
  const double min = x.min().item<double>();
  const double max = x.max().item<double>();
  if (min < low || max > high || (high_open && max >= high)) {
    throw InputError(std::string("image_transform: ") + what + " range [" + std::to_string(min) +
                     ", " + std::to_string(max) + "] must lie in [" + std::to_string(low) + ", " +
                     std::to_string(high) + (high_open ? ")" : "]"));
  }
}

}  // namespace

DequantizedBatch dequantize(const torch::Tensor& pixels, const torch::Tensor& noise,
                            const ImageTransformOptions& options) {
  validate(options);
  if (!pixels.defined() || pixels.dim() < 1 || pixels.size(0) < 1 || !noise.defined() ||
      noise.sizes() != pixels.sizes() || !noise.is_floating_point()) {
    throw InputError(
        "image_transform: pixels (B, ...) and floating-point noise of the same "
        "shape are required");
  }
  check_range(pixels, 0.0, 255.0, false, "pixel");
  check_range(noise, 0.0, 1.0, true, "noise");
  const int64_t batch = pixels.size(0);
  const double dims = static_cast<double>(pixels.numel() / batch);

  // Uniform dequantisation onto [0, 1)^D, in the noise's precision.
  torch::Tensor y = (pixels.to(noise.options()) + noise) / 256.0;

  DequantizedBatch out;
  if (options.kind == "affine") {
    out.x = 2.0 * y - 1.0;
    out.log_det_dx_dy = torch::full({batch}, dims * std::log(2.0), y.options());
    return out;
  }
  // logit: squeeze away from 0 and 1 first so the log stays finite at the edges.
  const double a = options.alpha;
  torch::Tensor s = a + (1.0 - 2.0 * a) * y;
  torch::Tensor log_s = torch::log(s);
  torch::Tensor log_1ms = torch::log1p(-s);
  out.x = log_s - log_1ms;
  torch::Tensor log_det = std::log(1.0 - 2.0 * a) - log_s - log_1ms;
  out.log_det_dx_dy = log_det.reshape({batch, -1}).sum(1);
  return out;
}

torch::Tensor model_to_unit_interval(const torch::Tensor& x, const ImageTransformOptions& options) {
  validate(options);
  if (options.kind == "affine") return ((x + 1.0) / 2.0).clamp(0.0, 1.0);
  const double a = options.alpha;
  return ((torch::sigmoid(x) - a) / (1.0 - 2.0 * a)).clamp(0.0, 1.0);
}

}  // namespace fm
