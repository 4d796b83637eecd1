#include "fm/nn/bias_silu.h"

#include <cstring>

#include "fm/common/vector_clones.h"

namespace fm::nn_detail {
namespace {

// e^x in float32 by arithmetic the compiler can vectorise (std::exp is a
// library call per element; glibc's vector expf needs -ffast-math, which this
// project does not use). e^x = 2^n e^r with n = round(x / ln 2), |r| <= ln 2 / 2,
// e^r by its Taylor series to r^7 (truncation below 2^-27 of the result),
// 2^n written into the exponent bits. x is clamped to [-87, 89]. At the
// bottom 2^n stays a normal float, and SiLU's value there is v to float
// precision. At the top n reaches 128, whose exponent bits are exactly
// infinity's: e^x is infinite from x = 88.38 up (true values from 2.4e38,
// against float32's largest, 3.4e38), and SiLU is -0 for v below -88.38,
// where its true magnitude is below 3.7e-37. NaN stays NaN.
__attribute__((always_inline)) inline float exp_clamped(float x) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2High = 0.693359375f;    // ln 2 to 9 bits: n kLn2High is exact
  constexpr float kLn2Low = -2.12194440e-4f;  // ln 2 - kLn2High
  // Adding 1.5 * 2^23 rounds to an integer, which then sits in the low
  // mantissa bits: n = bits(shifted) - bits(1.5 * 2^23), no float-to-int
  // conversion (undefined for NaN).
  constexpr float kRoundingShift = 12582912.0f;
  constexpr uint32_t kRoundingShiftBits = 0x4B400000u;
  x = x < -87.0f ? -87.0f : x;
  x = x > 89.0f ? 89.0f : x;
  const float shifted = x * kLog2e + kRoundingShift;
  const float n = shifted - kRoundingShift;
  const float r = (x - n * kLn2High) - n * kLn2Low;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  uint32_t shifted_bits;
  std::memcpy(&shifted_bits, &shifted, sizeof shifted_bits);
  const uint32_t exponent_bits = (shifted_bits - kRoundingShiftBits + 127u) << 23;
  float two_to_n;
  std::memcpy(&two_to_n, &exponent_bits, sizeof two_to_n);
  return p * two_to_n;
}

}  // namespace

// This file is compiled with -fno-trapping-math and -fno-thread-jumps
// (CMakeLists.txt). Without them GCC keeps the clamps above as branches, or
// threads each clamped case into a copy of its own: the loop was then
// vectorised for AVX-512 only, with a second division for the clamped lanes
// (0.54 ns an element against 0.33). Neither flag changes a result: this code
// reads no floating-point exception flags. Fused multiply-adds are allowed,
// so the AVX2 and AVX-512 copies may differ from the baseline one in the
// last bit.
FM_VECTOR_CLONES_FMA void add_bias_silu(float* __restrict z, int64_t rows, int64_t cols,
                                        const float* __restrict bias) {
  for (int64_t i = 0; i < rows; ++i) {
    float* row = z + i * cols;
    for (int64_t j = 0; j < cols; ++j) {
      const float v = row[j] + bias[j];
      row[j] = v / (1.0f + exp_clamped(-v));
    }
  }
}

FM_VECTOR_CLONES_FMA void add_bias_silu_with_slope(float* __restrict z, float* __restrict slope,
                                                   int64_t rows, int64_t cols,
                                                   const float* __restrict bias) {
  for (int64_t i = 0; i < rows; ++i) {
    float* row = z + i * cols;
    float* slope_row = slope + i * cols;
    for (int64_t j = 0; j < cols; ++j) {
      const float v = row[j] + bias[j];
      const float s = 1.0f / (1.0f + exp_clamped(-v));
      row[j] = v * s;
      slope_row[j] = s * (1.0f + v * (1.0f - s));
    }
  }
}

}  // namespace fm::nn_detail
