// NumPy's legacy random generator (numpy.random.RandomState), ported so that
// preprocessing seeded the way the literature seeds it (RandomState(42) for
// POWER) draws the same numbers bit for bit.
//
// Checked against NumPy 1.24 (tests/data/numpy_random_test.cpp):
//   - RandomState(seed) with an integer seed runs MT19937's init_genrand(seed)
//     (the same state as std::mt19937(seed)), not init_by_array;
//   - rand() / random_sample() takes two 32-bit draws a, b and returns
//     ((a >> 5) * 2^26 + (b >> 6)) / 2^53;
//   - shuffle() walks i = n-1 .. 1, draws j in [0, i] with random_interval and
//     swaps items i and j (rows, for a 2-D array).
#pragma once

#include <array>
#include <cstdint>

namespace fm {

class NumpyRandomState {
 public:
  // RandomState(seed) for an integer seed in [0, 2^32).
  explicit NumpyRandomState(uint32_t seed);

  // One raw MT19937 output (genrand_int32).
  uint32_t next_uint32();
  // Two draws, the first in the high half (numpy's mt19937_next64).
  uint64_t next_uint64();
  // One rand() value in [0, 1), 53 random bits.
  double next_double();
  // rand(n): n values in draw order (rand(N, k) fills row by row).
  void rand(double* out, int64_t n);

  // Uniform integer in [0, max]: masked rejection with the smallest all-ones
  // mask >= max; 32-bit draws while max fits in 32 bits, 64-bit draws above.
  uint64_t random_interval(uint64_t max);

  // shuffle(x) for a C-order array of n_rows rows of row_length doubles each
  // (a 1-D array is row_length = 1): the rows are permuted in place.
  void shuffle_rows(double* rows, int64_t n_rows, int64_t row_length);

 private:
  void regenerate();  // refills key_ with the next 624 words

  static constexpr int kStateLength = 624;
  std::array<uint32_t, kStateLength> key_{};
  int pos_ = kStateLength;
};

}  // namespace fm
