#include "fm/nn/describe.h"

namespace fm {
namespace {

std::string join(const std::vector<int64_t>& values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) {
    out += (i > 0 ? ", " : "") + std::to_string(values[i]);
  }
  return out;
}

}  // namespace

std::string with_thousands(int64_t n) {
  const std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out = n < 0 ? "-" : "";
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string shape_string(const std::vector<int64_t>& shape) { return "(" + join(shape) + ")"; }

std::string list_string(const std::vector<int64_t>& values) { return "[" + join(values) + "]"; }

}  // namespace fm
