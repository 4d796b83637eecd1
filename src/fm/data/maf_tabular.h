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

// POWER from <root>/power/data.npy (float64, N x 8).
TableSplits load_power(const std::string& root);

// GAS from <root>/gas/ethylene_CO.npy and <root>/gas/ethylene_CO.columns.json,
// written by scripts/convert-gas-pickle.py from the archive's pandas pickle.
TableSplits load_gas(const std::string& root);

// Split sizes the reference uses for n rows: n_test = int(0.1 n), then
// n_val = int(0.1 (n - n_test)), the rest is train.
struct SplitSizes {
  int64_t train, val, test;
};
SplitSizes maf_split_sizes(int64_t n);

}  // namespace fm
