#include "fm/data/numpy_random.h"

#include <cstring>
#include <vector>

namespace fm {
namespace {

// MT19937 constants (Matsumoto and Nishimura 1998).
constexpr int kShift = 397;
constexpr uint32_t kMatrixA = 0x9908b0dfu;
constexpr uint32_t kUpperBit = 0x80000000u;
constexpr uint32_t kLowerBits = 0x7fffffffu;

uint32_t twist(uint32_t upper_of, uint32_t lower_of, uint32_t shifted) {
  const uint32_t y = (upper_of & kUpperBit) | (lower_of & kLowerBits);
  return shifted ^ (y >> 1) ^ ((y & 1u) ? kMatrixA : 0u);
}

}  // namespace

NumpyRandomState::NumpyRandomState(uint32_t seed) {
  // init_genrand: numpy's _legacy_seeding takes this path for any integer seed.
  key_[0] = seed;
  for (int i = 1; i < kStateLength; ++i) {
    const uint32_t prev = key_[i - 1];
    key_[i] = 1812433253u * (prev ^ (prev >> 30)) + static_cast<uint32_t>(i);
  }
  pos_ = kStateLength;
}

void NumpyRandomState::regenerate() {
  const int n = kStateLength;
  for (int i = 0; i < n; ++i) {
    key_[i] = twist(key_[i], key_[(i + 1) % n], key_[(i + kShift) % n]);
  }
  pos_ = 0;
}

uint32_t NumpyRandomState::next_uint32() {
  if (pos_ == kStateLength) regenerate();
  uint32_t y = key_[pos_++];
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  y ^= y >> 18;
  return y;
}

uint64_t NumpyRandomState::next_uint64() {
  const uint64_t high = next_uint32();
  return (high << 32) | next_uint32();
}

double NumpyRandomState::next_double() {
  const uint32_t a = next_uint32() >> 5;
  const uint32_t b = next_uint32() >> 6;
  return (a * 67108864.0 + b) / 9007199254740992.0;
}

void NumpyRandomState::rand(double* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = next_double();
}

uint64_t NumpyRandomState::random_interval(uint64_t max) {
  if (max == 0) return 0;
  uint64_t mask = max;
  for (int shift = 1; shift <= 32; shift *= 2) mask |= mask >> shift;

  uint64_t value;
  if (max <= 0xffffffffu) {
    do {
      value = next_uint32() & mask;
    } while (value > max);
  } else {
    do {
      value = next_uint64() & mask;
    } while (value > max);
  }
  return value;
}

void NumpyRandomState::shuffle_rows(double* rows, int64_t n_rows, int64_t row_length) {
  const size_t row_bytes = static_cast<size_t>(row_length) * sizeof(double);
  std::vector<double> buffer(static_cast<size_t>(row_length));
  for (int64_t i = n_rows - 1; i >= 1; --i) {
    const auto j = static_cast<int64_t>(random_interval(static_cast<uint64_t>(i)));
    if (i == j) continue;
    double* row_i = rows + i * row_length;
    double* row_j = rows + j * row_length;
    std::memcpy(buffer.data(), row_j, row_bytes);
    std::memcpy(row_j, row_i, row_bytes);
    std::memcpy(row_i, buffer.data(), row_bytes);
  }
}

}  // namespace fm
