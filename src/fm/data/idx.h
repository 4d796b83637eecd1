// IDX files (the MNIST format), plain or gzip-compressed.
#pragma once

#include <torch/torch.h>

#include <string>

namespace fm {

// Reads an IDX file of unsigned bytes (magic 0x00000803 images or 0x00000801
// labels). Images -> (N, 1, H, W) uint8; labels -> (N,) uint8. Gzip is detected
// from the content. Throws InputError naming the file for a wrong magic number,
// dimensions that disagree with the file length, or a truncated file.
torch::Tensor read_idx(const std::string& path);

// Writes (N, H, W) or (N, 1, H, W) images or (N,) labels, uint8, as raw IDX.
void write_idx(const std::string& path, const torch::Tensor& data);

}  // namespace fm
