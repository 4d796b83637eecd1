// Exact linear assignment (minimum-cost perfect matching) for minibatch OT.
#pragma once

#include <cstdint>
#include <vector>

namespace fm {

// cost: row-major n x n matrix, cost[i * n + j] = cost of assigning row i to column j.
// Returns col_for_row (size n), a permutation minimising sum_i cost[i, col_for_row[i]].
// O(n^3) shortest augmenting paths (Jonker-Volgenant style).
std::vector<int64_t> solve_assignment(const std::vector<double>& cost, int64_t n);

// The rectangular case: cost is row-major n_rows x n_cols with n_rows <= n_cols.
// Returns col_for_row (size n_rows) of distinct columns minimising
// sum_i cost[i, col_for_row[i]]; unused columns are left out. O(n_rows^2 n_cols).
// Throws InputError if n_rows > n_cols, the size is not n_rows * n_cols, or a
// cost is not finite (naming the entry).
std::vector<int64_t> solve_assignment(const std::vector<double>& cost, int64_t n_rows,
                                      int64_t n_cols);

}  // namespace fm
