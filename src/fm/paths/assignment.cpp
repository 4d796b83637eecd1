#include "fm/paths/assignment.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "fm/common/error.h"

namespace fm {
namespace {

void check_cost(const std::vector<double>& cost, int64_t n_rows, int64_t n_cols) {
  if (n_rows < 0 || n_rows > n_cols) {
    throw InputError("assignment: " + std::to_string(n_rows) + " rows and " +
                     std::to_string(n_cols) + " columns; need 0 <= rows <= columns");
  }
  if (static_cast<int64_t>(cost.size()) != n_rows * n_cols) {
    throw InputError("assignment: cost has " + std::to_string(cost.size()) + " entries, " +
                     std::to_string(n_rows) + " x " + std::to_string(n_cols) + " needed");
  }
  for (size_t k = 0; k < cost.size(); ++k) {
    if (!std::isfinite(cost[k])) {
      throw InputError("assignment: cost[" + std::to_string(k / n_cols) + ", " +
                       std::to_string(k % n_cols) + "] = " + std::to_string(cost[k]) +
                       " must be finite");
    }
  }
}

// Shortest augmenting paths (Jonker & Volgenant 1987) on a dense cost matrix.
//
// Column potentials v keep every matched pair (i, j) cheapest in its row under
// reduced costs cost[i][j] - v[j]; the row potentials are implicit. Each free
// row then reaches a free column by a Dijkstra search over reduced costs, and
// flipping the path grows the matching by one while the potentials keep the
// invariant, so the final matching is optimal (LP duality). The columns not
// yet finished by a search sit at the tail of cols_, so each Dijkstra step is
// one pass over them that both relaxes distances and picks the next column.
class ShortestAugmentingPath {
 public:
  ShortestAugmentingPath(const double* cost, int64_t n_rows, int64_t n_cols)
      : cost_(cost),
        n_rows_(n_rows),
        m_(n_cols),
        v_(n_cols, 0.0),
        d_(n_cols),
        row_of_(n_cols, -1),
        pred_(n_cols),
        cols_(n_cols),
        col_for_row_(n_rows, -1) {}

  std::vector<int64_t> solve() {
    // Rectangular problems skip the reduction: there free columns keep v = 0.
    if (n_rows_ == m_) reduce_columns();
    for (int64_t row = 0; row < n_rows_; ++row) {
      if (col_for_row_[row] < 0) augment(row);
    }
    return col_for_row_;
  }

 private:
  // Square case: v[j] = min_i cost[i][j] is feasible, and a column's argmin
  // row takes it if still free, settling many rows before any search.
  void reduce_columns() {
    for (int64_t j = 0; j < m_; ++j) {
      int64_t best = 0;
      for (int64_t i = 1; i < n_rows_; ++i) {
        if (cost_[i * m_ + j] < cost_[best * m_ + j]) best = i;
      }
      v_[j] = cost_[best * m_ + j];
      if (col_for_row_[best] < 0) col_for_row_[best] = j, row_of_[j] = best;
    }
  }

  // Relaxes the unfinished columns cols_[done..) through row i, whose
  // distance offset is h; returns the position of the nearest one.
  int64_t relax(int64_t i, double h, int64_t done) {
    const double* c = cost_ + i * m_;
    double best = std::numeric_limits<double>::infinity();
    int64_t best_k = done;
    for (int64_t k = done; k < m_; ++k) {
      const int64_t j = cols_[k];
      const double reduced = c[j] - v_[j] - h;
      if (reduced < d_[j]) d_[j] = reduced, pred_[j] = i;
      if (d_[j] < best) best = d_[j], best_k = k;
    }
    return best_k;
  }

  void augment(int64_t row) {
    const double kInf = std::numeric_limits<double>::infinity();
    for (int64_t j = 0; j < m_; ++j) cols_[j] = j, d_[j] = kInf;
    // Dijkstra: finish the nearest column; stop at a free one, else go on
    // through the row that holds it.
    int64_t done = 0, next = relax(row, 0.0, 0), end = -1;
    double reached = 0.0;
    while (end < 0) {
      std::swap(cols_[done], cols_[next]);
      const int64_t j = cols_[done++];
      reached = d_[j];
      if (row_of_[j] < 0) {
        end = j;
      } else {
        const int64_t i = row_of_[j];
        next = relax(i, cost_[i * m_ + j] - v_[j] - reached, done);
      }
    }
    for (int64_t k = 0; k < done; ++k) v_[cols_[k]] += d_[cols_[k]] - reached;

    // Flip the path: each column on it passes to the row that reached it.
    for (int64_t j = end;;) {
      const int64_t i = pred_[j];
      row_of_[j] = i;
      std::swap(j, col_for_row_[i]);
      if (i == row) break;
    }
  }

  const double* cost_;
  int64_t n_rows_, m_;
  std::vector<double> v_, d_;
  std::vector<int64_t> row_of_, pred_, cols_, col_for_row_;
};

}  // namespace

std::vector<int64_t> solve_assignment(const std::vector<double>& cost, int64_t n) {
  return solve_assignment(cost, n, n);
}

std::vector<int64_t> solve_assignment(const std::vector<double>& cost, int64_t n_rows,
                                      int64_t n_cols) {
  check_cost(cost, n_rows, n_cols);
  return ShortestAugmentingPath(cost.data(), n_rows, n_cols).solve();
}

}  // namespace fm
