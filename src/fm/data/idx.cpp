#include "fm/data/idx.h"

#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>

#include "fm/common/error.h"
#include "fm/io/atomic_file.h"

namespace fm {
namespace {

const uint32_t kLabelsMagic = 0x00000801;  // unsigned bytes, 1 dimension
const uint32_t kImagesMagic = 0x00000803;  // unsigned bytes, 3 dimensions

bool is_gzip(const std::string& bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

// Inflates a whole gzip stream held in memory; a stream that ends early is an
// input error (a partly downloaded file), not a short dataset.
std::string gunzip(const std::string& bytes, const std::string& path) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) throw RuntimeError("idx: zlib inflateInit2 failed");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  std::string out;
  char chunk[1 << 16];
  int status = Z_OK;
  while (status == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(chunk);
    z.avail_out = sizeof chunk;
    status = inflate(&z, Z_NO_FLUSH);
    out.append(chunk, sizeof chunk - z.avail_out);
  }
  inflateEnd(&z);
  if (status != Z_STREAM_END) {
    throw InputError("idx: file '" + path + "' is a truncated or corrupt gzip stream (" +
                     (status == Z_BUF_ERROR ? std::string("unexpected end of data")
                                            : std::string(z.msg ? z.msg : "zlib error")) +
                     ")");
  }
  return out;
}

uint32_t big_endian_u32(const std::string& bytes, size_t offset) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(bytes[offset + i]);
  return v;
}

std::string hex32(uint32_t v) {
  char s[16];
  std::snprintf(s, sizeof s, "0x%08x", v);
  return s;
}

}  // namespace

torch::Tensor read_idx(const std::string& path) {
  std::string bytes = read_text_file(path);
  if (is_gzip(bytes)) bytes = gunzip(bytes, path);
  if (bytes.size() < 4) {
    throw InputError("idx: file '" + path + "' is truncated: " + std::to_string(bytes.size()) +
                     " bytes, too short for the magic number");
  }
  const uint32_t magic = big_endian_u32(bytes, 0);
  if (magic != kLabelsMagic && magic != kImagesMagic) {
    throw InputError("idx: file '" + path + "' has magic number " + hex32(magic) + "; expected " +
                     hex32(kLabelsMagic) + " (labels) or " + hex32(kImagesMagic) +
                     " (images) of unsigned bytes");
  }
  const size_t n_dims = magic & 0xff;
  const size_t header = 4 + 4 * n_dims;
  if (bytes.size() < header) {
    throw InputError("idx: file '" + path + "' is truncated inside its header (" +
                     std::to_string(bytes.size()) + " of " + std::to_string(header) + " bytes)");
  }

  std::vector<int64_t> dims;
  uint64_t count = 1;
  for (size_t i = 0; i < n_dims; ++i) {
    const uint64_t d = big_endian_u32(bytes, 4 + 4 * i);
    dims.push_back(static_cast<int64_t>(d));
    // Three 32-bit dimensions can overflow 64 bits; such a file cannot be real.
    if (d != 0 && count > std::numeric_limits<uint64_t>::max() / d) {
      throw InputError("idx: file '" + path + "' has impossible dimensions (over 2^64 bytes)");
    }
    count *= d;
  }
  const uint64_t actual = bytes.size() - header;
  if (actual != count) {
    throw InputError("idx: file '" + path + "' is " + (actual < count ? "truncated" : "too long") +
                     ": its dimensions " + c10::str(c10::IntArrayRef(dims)) + " need " +
                     std::to_string(count) + " bytes of data, found " + std::to_string(actual));
  }

  torch::Tensor data = torch::empty(dims, torch::kUInt8);
  if (count > 0) std::memcpy(data.data_ptr<uint8_t>(), bytes.data() + header, count);
  return magic == kImagesMagic ? data.unsqueeze(1).contiguous() : data;
}

void write_idx(const std::string& path, const torch::Tensor& data) {
  if (!data.defined() || data.scalar_type() != torch::kUInt8) {
    throw InputError("idx: data for '" + path + "' must be uint8");
  }
  torch::Tensor t = data.to(torch::kCPU).contiguous();
  if (t.dim() == 4 && t.size(1) == 1) t = t.squeeze(1);
  if (t.dim() != 1 && t.dim() != 3) {
    throw InputError("idx: data for '" + path + "' must be (N,), (N, H, W) or (N, 1, H, W), got " +
                     c10::str(data.sizes()));
  }

  std::string bytes;
  const uint32_t magic = t.dim() == 1 ? kLabelsMagic : kImagesMagic;
  auto put_u32 = [&bytes](uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<char>(v >> shift));
  };
  put_u32(magic);
  for (int64_t d : t.sizes()) put_u32(static_cast<uint32_t>(d));
  bytes.append(reinterpret_cast<const char*>(t.data_ptr<uint8_t>()), t.numel());
  write_text_atomically(path, bytes);
}

}  // namespace fm
