#include "fm/io/npy.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <vector>

#include "fm/common/error.h"
#include "fm/io/atomic_file.h"

namespace fm {
namespace {

const char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
// numpy aligns the data to 64 bytes and leaves room for the first axis to grow
// to 21 digits (format.py: ARRAY_ALIGN, GROWTH_AXIS_MAX_DIGITS); copying both
// makes our files byte-identical to np.save's.
constexpr size_t kAlign = 64;
constexpr size_t kGrowthDigits = 21;

struct Dtype {
  const char* descr;
  torch::ScalarType type;
  size_t itemsize;
};

const std::vector<Dtype>& supported_dtypes() {
  static const std::vector<Dtype> dtypes = {{"<f4", torch::kFloat32, 4},
                                            {"<f8", torch::kFloat64, 8},
                                            {"|u1", torch::kUInt8, 1},
                                            {"<i4", torch::kInt32, 4},
                                            {"<i8", torch::kInt64, 8}};
  return dtypes;
}

std::string supported_list() {
  std::string s;
  for (const auto& d : supported_dtypes())
    s += (s.empty() ? "'" : ", '") + std::string(d.descr) + "'";
  return s;
}

bool host_is_little_endian() {
  const uint16_t one = 1;
  unsigned char first;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

void require_little_endian_host(const std::string& path) {
  if (!host_is_little_endian()) {
    throw RuntimeError("npy: '" + path + "': only little-endian hosts are supported");
  }
}

std::string shape_repr(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<int64_t> shape;
};

// Parses the header, a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
// without evaluating anything: only strings, booleans and integer tuples.
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& path) : text_(text), path_(path) {}

  NpyHeader parse() {
    NpyHeader header;
    bool seen_descr = false, seen_order = false, seen_shape = false;
    expect('{');
    while (skip_space(), peek() != '}') {
      std::string key = quoted();
      expect(':');
      skip_space();
      if (key == "descr") {
        header.descr = (peek() == '\'' || peek() == '"') ? quoted() : raw_value();
        seen_descr = true;
      } else if (key == "fortran_order") {
        header.fortran_order = boolean();
        seen_order = true;
      } else if (key == "shape") {
        header.shape = tuple();
        seen_shape = true;
      } else {
        fail("unexpected key '" + key + "'");
      }
      skip_space();
      if (peek() == ',') ++pos_;
    }
    if (!seen_descr || !seen_order || !seen_shape) {
      fail("needs the keys 'descr', 'fortran_order' and 'shape'");
    }
    return header;
  }

 private:
  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(std::string("expected '") + c + "' at offset " + std::to_string(pos_));
    ++pos_;
  }
  std::string quoted() {
    skip_space();
    const char q = peek();
    if (q != '\'' && q != '"') fail("expected a quoted string at offset " + std::to_string(pos_));
    const size_t end = text_.find(q, pos_ + 1);
    if (end == std::string::npos) fail("unterminated string");
    std::string s = text_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = end + 1;
    return s;
  }
  bool boolean() {
    for (const char* word : {"True", "False"}) {
      if (text_.compare(pos_, std::strlen(word), word) == 0) {
        pos_ += std::strlen(word);
        return word[0] == 'T';
      }
    }
    fail("'fortran_order' must be True or False");
  }
  std::vector<int64_t> tuple();
  std::string raw_value();
  [[noreturn]] void fail(const std::string& what) const {
    throw InputError("npy: file '" + path_ + "' has a malformed header (" + what + "): " + text_);
  }

  const std::string& text_;
  const std::string& path_;
  size_t pos_ = 0;
};

std::vector<int64_t> HeaderParser::tuple() {
  std::vector<int64_t> dims;
  expect('(');
  while (skip_space(), peek() != ')') {
    if (!std::isdigit(static_cast<unsigned char>(peek()))) fail("shape must hold integers >= 0");
    int64_t d = 0;
    while (std::isdigit(static_cast<unsigned char>(peek()))) {
      if (d > (std::numeric_limits<int64_t>::max() - 9) / 10) fail("shape entry too large");
      d = d * 10 + (text_[pos_++] - '0');
    }
    if (peek() == 'L') ++pos_;  // Python 2 wrote long integers as 3L
    dims.push_back(d);
    skip_space();
    if (peek() == ',') {
      ++pos_;
    } else if (peek() != ')') {
      fail("expected ',' or ')' in shape");
    }
  }
  ++pos_;
  return dims;
}

// A structured dtype is a list of fields; keep its text for the error message.
std::string HeaderParser::raw_value() {
  const size_t start = pos_;
  int depth = 0;
  for (; pos_ < text_.size(); ++pos_) {
    const char c = text_[pos_];
    if (c == '[' || c == '(' || c == '{') ++depth;
    if (c == ']' || c == ')' || c == '}') --depth;
    if (depth == 0 && (c == ',' || c == ']' || c == ')')) {
      if (c != ',') ++pos_;
      break;
    }
  }
  return text_.substr(start, pos_ - start);
}

const Dtype& find_dtype(const std::string& descr, const std::string& path) {
  for (const auto& d : supported_dtypes()) {
    if (descr == d.descr) return d;
  }
  std::string why;
  if (!descr.empty() && descr[0] == '>') why = " (big-endian)";
  if (descr.find('O') != std::string::npos) why = " (object arrays hold Python objects)";
  if (!descr.empty() && descr[0] == '[') why = " (structured arrays are not supported)";
  throw InputError("npy: file '" + path + "' has dtype '" + descr + "'" + why +
                   "; supported: " + supported_list());
}

}  // namespace

namespace {

uint32_t read_le(const std::string& bytes, size_t offset, size_t width) {
  uint32_t v = 0;
  for (size_t i = 0; i < width; ++i) {
    v |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[offset + i])) << (8 * i);
  }
  return v;
}

// Splits a file into its parsed header and the offset of the data.
NpyHeader parse_file_header(const std::string& bytes, const std::string& path, size_t* offset) {
  if (bytes.size() < kMagicLen + 4 || bytes.compare(0, kMagicLen, kMagic, kMagicLen) != 0) {
    throw InputError("npy: file '" + path +
                     "' is not a .npy file (bad magic: expected \\x93NUMPY)");
  }
  const int major = static_cast<unsigned char>(bytes[6]);
  const int minor = static_cast<unsigned char>(bytes[7]);
  if (major < 1 || major > 3 || minor != 0) {
    throw InputError("npy: file '" + path + "' has format version " + std::to_string(major) + "." +
                     std::to_string(minor) + "; supported: 1.0, 2.0, 3.0");
  }
  const size_t width = major == 1 ? 2 : 4;
  if (bytes.size() < 8 + width) {
    throw InputError("npy: file '" + path + "' is truncated inside its header");
  }
  const size_t header_len = read_le(bytes, 8, width);
  *offset = 8 + width + header_len;
  if (bytes.size() < *offset) {
    throw InputError("npy: file '" + path + "' is truncated: header needs " +
                     std::to_string(*offset) + " bytes, file has " + std::to_string(bytes.size()));
  }
  const std::string text = bytes.substr(8 + width, header_len);
  return HeaderParser(text, path).parse();
}

}  // namespace

torch::Tensor read_npy(const std::string& path) {
  require_little_endian_host(path);
  const std::string bytes = read_text_file(path);
  size_t offset = 0;
  const NpyHeader header = parse_file_header(bytes, path, &offset);
  const Dtype& dtype = find_dtype(header.descr, path);

  // Validate the size before allocating: a corrupt shape must not ask for terabytes.
  uint64_t count = 1;
  for (int64_t d : header.shape) {
    if (d != 0 && count > std::numeric_limits<uint64_t>::max() / 8 / static_cast<uint64_t>(d)) {
      throw InputError("npy: file '" + path + "' has an impossible shape " +
                       shape_repr(header.shape));
    }
    count *= static_cast<uint64_t>(d);
  }
  const uint64_t expected = count * dtype.itemsize;
  const uint64_t actual = bytes.size() - offset;
  if (actual != expected) {
    throw InputError("npy: file '" + path + "' is " +
                     (actual < expected ? "truncated" : "too long") + ": shape " +
                     shape_repr(header.shape) + " of '" + header.descr + "' needs " +
                     std::to_string(expected) + " bytes of data, found " + std::to_string(actual));
  }

  // Fortran order stores the transpose in C order: read reversed dims, then permute back.
  std::vector<int64_t> stored(header.shape);
  if (header.fortran_order) std::reverse(stored.begin(), stored.end());
  torch::Tensor t = torch::empty(stored, torch::TensorOptions().dtype(dtype.type));
  if (expected > 0) std::memcpy(t.data_ptr(), bytes.data() + offset, expected);
  if (header.fortran_order && stored.size() > 1) {
    std::vector<int64_t> reverse_dims(stored.size());
    for (size_t i = 0; i < stored.size(); ++i) reverse_dims[i] = stored.size() - 1 - i;
    t = t.permute(reverse_dims).contiguous();
  }
  return t;
}

void write_npy(const std::string& path, const torch::Tensor& tensor) {
  require_little_endian_host(path);
  if (!tensor.defined())
    throw InputError("npy: cannot write an undefined tensor to '" + path + "'");
  const Dtype* dtype = nullptr;
  for (const auto& d : supported_dtypes()) {
    if (d.type == tensor.scalar_type()) dtype = &d;
  }
  if (!dtype) {
    throw InputError("npy: cannot write dtype " + std::string(c10::toString(tensor.scalar_type())) +
                     " to '" + path + "'; supported: float32, float64, uint8, int32, int64");
  }
  const torch::Tensor data = tensor.to(torch::kCPU).contiguous();

  // Header exactly as np.save (numpy 1.24) writes it, so files compare byte for byte.
  const std::vector<int64_t> shape = data.sizes().vec();
  std::string header = "{'descr': '" + std::string(dtype->descr) +
                       "', 'fortran_order': False, 'shape': " + shape_repr(shape) + ", }";
  if (!shape.empty()) header += std::string(kGrowthDigits - std::to_string(shape[0]).size(), ' ');
  const size_t unpadded = kMagicLen + 2 + 2 + header.size() + 1;
  header += std::string(kAlign - unpadded % kAlign, ' ') + "\n";
  if (header.size() > 65535) {
    throw InputError("npy: shape " + shape_repr(shape) + " is too long for a version 1.0 header");
  }

  write_atomically(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    const unsigned char prefix[4] = {1, 0, static_cast<unsigned char>(header.size() & 0xff),
                                     static_cast<unsigned char>(header.size() >> 8)};
    out.write(kMagic, kMagicLen);
    out.write(reinterpret_cast<const char*>(prefix), 4);
    out << header;
    out.write(static_cast<const char*>(data.data_ptr()),
              static_cast<std::streamsize>(data.numel() * data.element_size()));
    out.close();
    if (!out) throw RuntimeError("npy: writing '" + tmp + "' failed (disk full?)");
  });
}

}  // namespace fm
