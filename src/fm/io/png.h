// PNG output: image grids and 2-D scatter plots.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>

namespace fm {

// Writes an 8-bit PNG, atomically. image: (H, W) gray or (H, W, 3) RGB, uint8.
void write_png(const std::string& path, const torch::Tensor& image);

// Reads an 8-bit gray or RGB PNG as (H, W) or (H, W, 3) uint8 (used by tests).
torch::Tensor read_png(const std::string& path);

// Converts values in [0, 1] to bytes: clamp to [0, 1], then round(v * 255)
// (half away from zero). Out-of-range values saturate, never wrap; NaN gives 0.
torch::Tensor unit_to_bytes(const torch::Tensor& unit);

// Tiles images (N, C, H, W) with C in {1, 3}, values already bytes (uint8), into
// a grid of `rows` x `cols` with a `pad`-pixel border; rows = cols = 0 picks a
// near-square grid (cols = ceil(sqrt(N))); a grid too small for N throws
// InputError. Padding and unused cells are white (255). Returns (H', W') or
// (H', W', 3) uint8 with H' = rows (H + pad) + pad, W' = cols (W + pad) + pad.
torch::Tensor tile_images(const torch::Tensor& images, int64_t rows = 0, int64_t cols = 0,
                          int64_t pad = 2);

// Renders 2-D points as a scatter plot image (size x size, RGB, white background):
// `points` (N, 2) in blue and, when given, `reference` (M, 2) in grey, on a
// common square window that covers both.
torch::Tensor scatter_plot(const torch::Tensor& points, const torch::Tensor& reference = {},
                           int64_t size = 512);

}  // namespace fm
