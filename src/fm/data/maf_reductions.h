// Column reductions that add in the same order as the reference Python stack
// (NumPy 1.24, pandas 1.5.3, bottleneck 1.3.5: Debian 12), so that means and
// standard deviations, and so the normalised POWER and GAS tables, are
// bit-identical to what the MAF loaders produce there. Private to fm/data.
//
// Every function reads n values x[0], x[stride], ..., x[(n-1) stride]: one
// column of a row-major (n, stride) table, or a contiguous run for stride 1.
// Orders established by experiment against that stack:
//   - np.add.reduce along axis 0 of a C-order 2-D array (np.mean/np.std of
//     POWER's (N, 6) table): one running sum per column, rows in order.
//   - np.add.reduce along a contiguous axis (pandas' mean of a frame whose
//     float block stores each column contiguously): pairwise summation within
//     consecutive blocks of 8192 elements (the ufunc buffer size), the block
//     results added in order.
//   - pandas' std (bottleneck's nanstd): two passes, each a running sum.
//   - pandas' corr (libalgos.nancorr): Welford updates in row order.
#pragma once

#include <cstdint>
#include <vector>

namespace fm {

// How a reduction adds its terms (see above).
enum class Summation { kSequential, kPairwise };

// Sum in row order, starting from 0.0.
double sequential_sum(const double* x, int64_t n, int64_t stride);

// NumPy's pairwise summation (8 running sums below 128 terms, halving above)
// over blocks of 8192 terms, blocks added in order.
double numpy_pairwise_sum(const double* x, int64_t n, int64_t stride);

double sum_in_order(Summation order, const double* x, int64_t n, int64_t stride);

// sum / n, as np.mean and pandas' mean compute it.
double mean_in_order(Summation order, const double* x, int64_t n, int64_t stride);

// Two-pass standard deviation: m = sum(x) / n, then
// sqrt(sum((x - m)^2) / (n - ddof)), both sums in `order`. np.std(axis=0) of a
// C-order table is (kSequential, ddof 0); bottleneck's nanstd, which pandas'
// std uses when bottleneck is installed, is (kSequential, ddof 1); pandas'
// std without bottleneck is (the mean's order, ddof 1). Requires n > ddof.
double two_pass_std(Summation order, const double* x, int64_t n, int64_t stride, int ddof);

// Pearson correlations of the listed columns of a row-major (n_rows,
// row_length) table, as pandas' DataFrame.corr() computes them: one Welford
// pass per pair, C[a][b] = cov / sqrt(ssq_a ssq_b), NaN when that divisor is
// 0. Returns K x K, row-major, K = columns.size(). Requires finite values.
//
// NOTE: with no missing values each column's running mean and sum of squares
// do not depend on which other columns are present, so C for a subset of
// columns is the submatrix of C for the full set: dropping columns never
// requires recomputing.
std::vector<double> pandas_pearson(const double* rows, int64_t n_rows, int64_t row_length,
                                   const std::vector<int64_t>& columns);

}  // namespace fm
