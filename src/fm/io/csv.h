// Numeric CSV tables.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

namespace fm {

struct CsvTable {
  torch::Tensor values;              // (rows, cols) float64
  std::vector<std::string> header;   // column names; empty if the file has none
};

// Reads a comma-separated numeric table. A first row none of whose cells reads
// as a number is taken as the header (surrounding double quotes are dropped;
// quoted commas are not supported). Blank lines at the end are ignored. Empty, non-numeric, NaN or infinite cells and ragged
// rows throw InputError naming file, 1-based line and column.
CsvTable read_csv(const std::string& path);

// Writes a 2-D tensor as CSV with an optional header, atomically. Values are
// printed with enough digits to round-trip (float32: 9, float64: 17).
void write_csv(const std::string& path, const torch::Tensor& values,
               const std::vector<std::string>& header = {});

}  // namespace fm
