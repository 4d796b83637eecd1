#include "fm/data/maf_reductions.h"

#include <algorithm>
#include <cmath>
#include <limits>

// NOTE: products and sums are kept in separate statements throughout: a
// compiler allowed to contract a * b + c into one fused multiply-add (clang's
// default on FMA hardware) would round differently from the reference.

namespace fm {
namespace {

constexpr int64_t kNumpyBufferSize = 8192;  // NPY_BUFSIZE: terms per pairwise block
constexpr int64_t kPairwiseBlock = 128;     // PW_BLOCKSIZE in numpy's loops_utils

// numpy's DOUBLE_pairwise_sum, term for term.
double pairwise(const double* x, int64_t n, int64_t stride) {
  if (n < 8) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += x[i * stride];
    return sum;
  }
  if (n <= kPairwiseBlock) {
    double r[8];
    for (int k = 0; k < 8; ++k) r[k] = x[k * stride];
    int64_t i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (int k = 0; k < 8; ++k) r[k] += x[(i + k) * stride];
    }
    double sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) sum += x[i * stride];
    return sum;
  }
  // Halve, keeping the first half a multiple of the 8-way unroll.
  int64_t half = n / 2;
  half -= half % 8;
  return pairwise(x, half, stride) + pairwise(x + half * stride, n - half, stride);
}

// Sum of squared deviations from `mean`, added in `order`.
double squared_deviation_sum(Summation order, const double* x, int64_t n, int64_t stride,
                             double mean) {
  if (order == Summation::kSequential) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      const double d = x[i * stride] - mean;
      const double square = d * d;
      sum += square;
    }
    return sum;
  }
  // numpy squares into a temporary array and then reduces it; do the same one
  // buffer-sized block at a time.
  std::vector<double> squares(static_cast<size_t>(std::min(n, kNumpyBufferSize)));
  double sum = 0.0;
  for (int64_t begin = 0; begin < n; begin += kNumpyBufferSize) {
    const int64_t len = std::min(kNumpyBufferSize, n - begin);
    for (int64_t i = 0; i < len; ++i) {
      const double d = x[(begin + i) * stride] - mean;
      squares[i] = d * d;
    }
    sum += pairwise(squares.data(), len, 1);
  }
  return sum;
}

}  // namespace

double sequential_sum(const double* x, int64_t n, int64_t stride) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += x[i * stride];
  return sum;
}

double numpy_pairwise_sum(const double* x, int64_t n, int64_t stride) {
  double sum = 0.0;
  for (int64_t begin = 0; begin < n; begin += kNumpyBufferSize) {
    sum += pairwise(x + begin * stride, std::min(kNumpyBufferSize, n - begin), stride);
  }
  return sum;
}

double sum_in_order(Summation order, const double* x, int64_t n, int64_t stride) {
  return order == Summation::kSequential ? sequential_sum(x, n, stride)
                                         : numpy_pairwise_sum(x, n, stride);
}

double mean_in_order(Summation order, const double* x, int64_t n, int64_t stride) {
  return sum_in_order(order, x, n, stride) / static_cast<double>(n);
}

double two_pass_std(Summation order, const double* x, int64_t n, int64_t stride, int ddof) {
  const double mean = mean_in_order(order, x, n, stride);
  const double sum = squared_deviation_sum(order, x, n, stride, mean);
  return std::sqrt(sum / static_cast<double>(n - ddof));
}

std::vector<double> pandas_pearson(const double* rows, int64_t n_rows, int64_t row_length,
                                   const std::vector<int64_t>& columns) {
  const size_t k = columns.size();
  std::vector<double> mean(k, 0.0), ssq(k, 0.0), before(k), after(k);
  std::vector<double> cov(k * k, 0.0);  // lower triangle: cov[a * k + b], b <= a

  for (int64_t i = 0; i < n_rows; ++i) {
    const double* row = rows + i * row_length;
    const double inv_count = 1.0 / static_cast<double>(i + 1);
    // Welford: deviation from the mean before and after this row's update.
    for (size_t c = 0; c < k; ++c) {
      const double v = row[columns[c]];
      before[c] = v - mean[c];
      const double step = inv_count * before[c];
      mean[c] += step;
      after[c] = v - mean[c];
      const double term = after[c] * before[c];
      ssq[c] += term;
    }
    for (size_t a = 0; a < k; ++a) {
      for (size_t b = 0; b <= a; ++b) {
        const double term = after[a] * before[b];
        cov[a * k + b] += term;
      }
    }
  }

  std::vector<double> corr(k * k);
  for (size_t a = 0; a < k; ++a) {
    for (size_t b = 0; b <= a; ++b) {
      const double divisor = std::sqrt(ssq[a] * ssq[b]);
      const double r =
          divisor != 0.0 ? cov[a * k + b] / divisor : std::numeric_limits<double>::quiet_NaN();
      corr[a * k + b] = r;
      corr[b * k + a] = r;
    }
  }
  return corr;
}

}  // namespace fm
