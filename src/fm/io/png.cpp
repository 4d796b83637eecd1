#include "fm/io/png.h"

#include <png.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "fm/common/error.h"
#include "fm/io/atomic_file.h"

namespace fm {
namespace {

const uint8_t kWhite = 255;
// Point colours: grey for the reference, matplotlib's default blue for samples.
const uint8_t kGrey[3] = {150, 150, 150};
const uint8_t kBlue[3] = {31, 119, 180};
// Each point paints a (2 r + 1)^2 square, blended with this opacity, so dense
// regions read darker than isolated points.
const int64_t kDotRadius = 1;
const double kDotOpacity = 0.4;

void check_image(const torch::Tensor& image, const std::string& path) {
  const bool gray = image.defined() && image.dim() == 2;
  const bool rgb = image.defined() && image.dim() == 3 && image.size(2) == 3;
  if (!gray && !rgb) {
    throw InputError("png: image for '" + path + "' must be (H, W) or (H, W, 3), got " +
                     (image.defined() ? c10::str(image.sizes()) : std::string("undefined")));
  }
  if (image.scalar_type() != torch::kUInt8) {
    throw InputError("png: image for '" + path + "' must be uint8, got " +
                     std::string(c10::toString(image.scalar_type())));
  }
  if (image.size(0) == 0 || image.size(1) == 0) {
    throw InputError("png: image for '" + path + "' is empty: " + c10::str(image.sizes()));
  }
}

}  // namespace

void write_png(const std::string& path, const torch::Tensor& image) {
  check_image(image, path);
  const torch::Tensor pixels = image.to(torch::kCPU).contiguous();
  write_atomically(path, [&](const std::string& tmp) {
    png_image png;
    std::memset(&png, 0, sizeof png);
    png.version = PNG_IMAGE_VERSION;
    png.width = static_cast<png_uint_32>(pixels.size(1));
    png.height = static_cast<png_uint_32>(pixels.size(0));
    png.format = pixels.dim() == 2 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    if (!png_image_write_to_file(&png, tmp.c_str(), 0, pixels.data_ptr<uint8_t>(), 0, nullptr)) {
      throw RuntimeError("png: writing '" + tmp + "' failed: " + png.message);
    }
  });
}

torch::Tensor read_png(const std::string& path) {
  png_image png;
  std::memset(&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&png, path.c_str())) {
    throw InputError("png: cannot read '" + path + "': " + png.message);
  }
  const bool color = png.format & PNG_FORMAT_FLAG_COLOR;
  png.format = color ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  std::vector<int64_t> shape = {png.height, png.width};
  if (color) shape.push_back(3);
  torch::Tensor image = torch::empty(shape, torch::kUInt8);
  if (!png_image_finish_read(&png, nullptr, image.data_ptr<uint8_t>(), 0, nullptr)) {
    png_image_free(&png);
    throw InputError("png: cannot decode '" + path + "': " + png.message);
  }
  return image;
}

torch::Tensor unit_to_bytes(const torch::Tensor& unit) {
  // In float64 so that v * 255 lands exactly on .5 for values such as 0.5; adding
  // 0.5 then flooring rounds half away from zero (torch::round rounds half to even).
  torch::Tensor v = torch::nan_to_num(unit.to(torch::kFloat64), 0.0).clamp(0.0, 1.0);
  return torch::floor(v * 255.0 + 0.5).to(torch::kUInt8);
}

namespace {

// Smallest k with k * k >= n: the columns of a near-square grid.
int64_t ceil_sqrt(int64_t n) {
  int64_t k = static_cast<int64_t>(std::sqrt(static_cast<double>(n)));
  while (k * k < n) ++k;
  while (k > 1 && (k - 1) * (k - 1) >= n) --k;
  return std::max<int64_t>(k, 1);
}

void check_images(const torch::Tensor& images, int64_t rows, int64_t cols, int64_t pad) {
  if (!images.defined() || images.dim() != 4 || (images.size(1) != 1 && images.size(1) != 3) ||
      images.size(0) == 0) {
    throw InputError(
        "png: tile_images needs images (N, C, H, W) with N >= 1 and C in {1, 3}, got " +
        (images.defined() ? c10::str(images.sizes()) : std::string("undefined")));
  }
  if (images.scalar_type() != torch::kUInt8) {
    throw InputError("png: tile_images needs uint8 images, got " +
                     std::string(c10::toString(images.scalar_type())) + " (see unit_to_bytes)");
  }
  if (rows < 0 || cols < 0 || pad < 0) {
    throw InputError("png: tile_images rows=" + std::to_string(rows) + ", cols=" +
                     std::to_string(cols) + ", pad=" + std::to_string(pad) + " must be >= 0");
  }
}

}  // namespace

torch::Tensor tile_images(const torch::Tensor& images, int64_t rows, int64_t cols, int64_t pad) {
  check_images(images, rows, cols, pad);
  const int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  if (rows == 0 && cols == 0) cols = ceil_sqrt(n);
  if (rows == 0) rows = (n + cols - 1) / cols;
  if (cols == 0) cols = (n + rows - 1) / rows;
  if (rows * cols < n) {
    throw InputError("png: a grid of " + std::to_string(rows) + " x " + std::to_string(cols) +
                     " cannot hold " + std::to_string(n) + " images");
  }

  // Padding and unused cells stay white, so the grid lines show on dark images.
  torch::Tensor canvas =
      torch::full({c, rows * (h + pad) + pad, cols * (w + pad) + pad}, kWhite, torch::kUInt8);
  const torch::Tensor src = images.to(torch::kCPU);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t top = pad + (i / cols) * (h + pad), left = pad + (i % cols) * (w + pad);
    canvas.slice(1, top, top + h).slice(2, left, left + w).copy_(src[i]);
  }
  return c == 1 ? canvas[0].contiguous() : canvas.permute({1, 2, 0}).contiguous();
}

namespace {

struct Window {
  double centre_x = 0, centre_y = 0, half = 1;
};

// The smallest square (plus a 5% margin) holding every finite point of both sets.
Window common_window(const std::vector<torch::Tensor>& sets) {
  double lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};
  for (const auto& set : sets) {
    auto a = set.accessor<double, 2>();
    for (int64_t i = 0; i < set.size(0); ++i) {
      if (!std::isfinite(a[i][0]) || !std::isfinite(a[i][1])) continue;
      for (int k = 0; k < 2; ++k)
        lo[k] = std::min(lo[k], a[i][k]), hi[k] = std::max(hi[k], a[i][k]);
    }
  }
  Window w;
  if (!(lo[0] <= hi[0])) return w;  // no finite point at all
  w.centre_x = (lo[0] + hi[0]) / 2;
  w.centre_y = (lo[1] + hi[1]) / 2;
  w.half = 1.05 * std::max(hi[0] - lo[0], hi[1] - lo[1]) / 2;
  if (!(w.half > 0)) w.half = 1;
  return w;
}

void draw_points(torch::Tensor& canvas, const torch::Tensor& points, const Window& w,
                 const uint8_t colour[3]) {
  const int64_t size = canvas.size(0);
  auto px = canvas.accessor<double, 3>();
  auto a = points.accessor<double, 2>();
  const double scale = (size - 1) / (2 * w.half);
  for (int64_t i = 0; i < points.size(0); ++i) {
    if (!std::isfinite(a[i][0]) || !std::isfinite(a[i][1])) continue;
    // y grows upwards in the plot, rows grow downwards in the image.
    const int64_t col = std::llround((a[i][0] - (w.centre_x - w.half)) * scale);
    const int64_t row = std::llround(((w.centre_y + w.half) - a[i][1]) * scale);
    for (int64_t r = std::max<int64_t>(row - kDotRadius, 0);
         r <= std::min(row + kDotRadius, size - 1); ++r) {
      for (int64_t c = std::max<int64_t>(col - kDotRadius, 0);
           c <= std::min(col + kDotRadius, size - 1); ++c) {
        for (int k = 0; k < 3; ++k) px[r][c][k] += kDotOpacity * (colour[k] - px[r][c][k]);
      }
    }
  }
}

torch::Tensor points_2d(const torch::Tensor& t, const char* what) {
  if (!t.defined() || t.dim() != 2 || t.size(1) != 2) {
    throw InputError(std::string("png: scatter_plot ") + what + " must be (N, 2), got " +
                     (t.defined() ? c10::str(t.sizes()) : std::string("undefined")));
  }
  return t.to(torch::kCPU, torch::kFloat64).contiguous();
}

}  // namespace

torch::Tensor scatter_plot(const torch::Tensor& points, const torch::Tensor& reference,
                           int64_t size) {
  if (size < 8)
    throw InputError("png: scatter_plot size=" + std::to_string(size) + " must be >= 8");
  std::vector<torch::Tensor> sets = {points_2d(points, "points")};
  if (reference.defined()) sets.push_back(points_2d(reference, "reference"));
  const Window window = common_window(sets);

  // Reference first, so samples drawn on top stay visible where the two overlap.
  torch::Tensor canvas = torch::full({size, size, 3}, double{kWhite}, torch::kFloat64);
  if (sets.size() == 2) draw_points(canvas, sets[1], window, kGrey);
  draw_points(canvas, sets[0], window, kBlue);
  return torch::round(canvas).to(torch::kUInt8);
}

}  // namespace fm
