// NumPy .npy files (format versions 1.0, 2.0 and 3.0).
#pragma once

#include <torch/torch.h>

#include <string>

namespace fm {

// Reads a .npy array as a tensor. Accepts little-endian float32 ('<f4'),
// float64 ('<f8'), uint8 ('|u1'), int32 and int64, C order, any number of
// dimensions; keeps the dtype. Fortran order is transposed into C order.
// Throws InputError naming the file and what is wrong (bad magic, unsupported
// dtype such as '>f4' or object arrays, truncated data or bytes past the end
// of the data, malformed header).
torch::Tensor read_npy(const std::string& path);

// Writes a contiguous CPU tensor (float32, float64, uint8, int32 or int64) as a
// version 1.0 .npy file, atomically, byte for byte as numpy 1.24's np.save.
void write_npy(const std::string& path, const torch::Tensor& tensor);

}  // namespace fm
