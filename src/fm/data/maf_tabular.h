// POWER and GAS exactly as the tabular flow literature prepares them (MAF,
// Papamakarios et al. 2017; reused by FFJORD and RQ-NSF): same row shuffle,
// noise, column drops, splits and normalisation, bit for bit.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "fm/data/standardizer.h"

namespace fm {

struct TableSplits {
  torch::Tensor train;  // (N_train, D) float64, already normalised as the reference does
  torch::Tensor val;    // (N_val, D)
  torch::Tensor test;   // (N_test, D)
  // The normalisation the reference applied (mean, std per kept column), so
  // NLL can also be reported in the units before normalisation.
  Standardizer normalisation;
  std::vector<std::string> columns;  // names of the kept columns
};

// POWER from <root>/power/data.npy (float64, N x 8): shuffled with NumPy's
// RandomState(42), columns 3 and 1 deleted, noise added, split, normalised
// with the mean and population std of train + val. D = 6. See docs/tabular.md.
// Throws InputError naming the file: missing (hint: scripts/fetch-tabular-data.sh),
// unreadable or truncated, not float64 (N, 8), or fewer than 11 rows.
TableSplits load_power(const std::string& root);

// GAS from <root>/gas/ethylene_CO.npy and <root>/gas/ethylene_CO.columns.json,
// written by scripts/convert-gas-pickle.py from the archive's pandas pickle:
// Meth, Eth and Time dropped, then columns correlated > 0.98 (by name, as
// DataFrame.drop), normalised with mean and sample std over all rows, split
// without shuffling. Throws InputError naming the file: missing (hint: the
// converter when the pickle is there, else the fetch script), unreadable,
// names disagreeing with the table, Time/Meth/Eth absent, non-finite values
// (with row and column) or a constant column.
TableSplits load_gas(const std::string& root);

// Split sizes the reference uses for n rows: n_test = int(0.1 n), then
// n_val = int(0.1 (n - n_test)), the rest is train.
struct SplitSizes {
  int64_t train, val, test;
};
SplitSizes maf_split_sizes(int64_t n);

}  // namespace fm
