// Exact linear assignment (minimum-cost perfect matching) for minibatch OT.
#pragma once

#include <cstdint>
#include <vector>

namespace fm {

// cost: row-major n x n matrix, cost[i * n + j] = cost of assigning row i to column j.
// Returns col_for_row (size n), a permutation minimising sum_i cost[i, col_for_row[i]].
// O(n^3) shortest augmenting paths (Jonker-Volgenant style).
std::vector<int64_t> solve_assignment(const std::vector<double>& cost, int64_t n);

}  // namespace fm
