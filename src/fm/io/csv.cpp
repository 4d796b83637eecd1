#include "fm/io/csv.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "fm/common/error.h"
#include "fm/io/atomic_file.h"

namespace fm {
namespace {

std::string trim(const std::string& s) {
  const char* space = " \t\r";
  const size_t begin = s.find_first_not_of(space);
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(space) - begin + 1);
}

std::vector<std::string> split_cells(const std::string& line) {
  std::vector<std::string> cells;
  size_t start = 0;
  while (true) {
    const size_t comma = line.find(',', start);
    cells.push_back(trim(line.substr(start, comma - start)));
    if (comma == std::string::npos) return cells;
    start = comma + 1;
  }
}

// strtod over the whole cell. The C locale is assumed (LibTorch and our programs
// never call setlocale), so the decimal separator is always '.'. Hexadecimal
// ("0x10", "0x1p3"), which strtod also reads, is refused: a table cell written
// that way is far more likely an identifier than a value.
bool parse_number(const std::string& cell, double* value) {
  if (cell.empty() || cell.find_first_of("xX") != std::string::npos) return false;
  char* end = nullptr;
  errno = 0;
  *value = std::strtod(cell.c_str(), &end);
  return end == cell.c_str() + cell.size();
}

std::string unquote(const std::string& cell) {
  if (cell.size() >= 2 && cell.front() == '"' && cell.back() == '"') {
    return cell.substr(1, cell.size() - 2);
  }
  return cell;
}

struct Location {
  const std::string& path;
  size_t line;  // 1-based
};

[[noreturn]] void fail_at(const Location& at, size_t column, const std::string& what) {
  throw InputError("csv: file '" + at.path + "' line " + std::to_string(at.line) + ", column " +
                   std::to_string(column) + ": " + what);
}

double cell_value(const std::string& cell, const Location& at, size_t column) {
  double v = 0;
  if (cell.empty()) fail_at(at, column, "cell is empty; expected a number");
  if (!parse_number(cell, &v)) fail_at(at, column, "'" + cell + "' is not a number");
  if (std::isnan(v)) fail_at(at, column, "'" + cell + "' is NaN; values must be finite");
  if (std::isinf(v)) fail_at(at, column, "'" + cell + "' is infinite; values must be finite");
  return v;
}

}  // namespace

namespace {

std::vector<std::string> split_lines(std::string text) {
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.erase(0, 3);  // UTF-8 byte-order mark
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  // Blank lines at the end are formatting, not rows.
  while (!lines.empty() && trim(lines.back()).empty()) lines.pop_back();
  return lines;
}

// A header is a first row none of whose cells reads as a number; a first row
// with some numbers and some text is a data row with bad cells.
bool is_header(const std::vector<std::string>& cells) {
  double v;
  for (const auto& c : cells) {
    if (parse_number(c, &v)) return false;
  }
  return true;
}

}  // namespace

CsvTable read_csv(const std::string& path) {
  const std::vector<std::string> lines = split_lines(read_text_file(path));
  CsvTable table;
  std::vector<double> values;
  size_t n_cols = 0, n_rows = 0;

  for (size_t i = 0; i < lines.size(); ++i) {
    const Location at{path, i + 1};
    if (trim(lines[i]).empty()) fail_at(at, 1, "line is empty; expected a row of numbers");
    const std::vector<std::string> cells = split_cells(lines[i]);
    if (i == 0 && is_header(cells)) {
      for (const auto& c : cells) table.header.push_back(unquote(c));
      n_cols = cells.size();
      continue;
    }
    if (n_cols == 0) n_cols = cells.size();
    if (cells.size() != n_cols) {
      fail_at(at, std::min(cells.size(), n_cols) + 1,
              "row has " + std::to_string(cells.size()) + " cells, expected " +
                  std::to_string(n_cols) + " like line 1");
    }
    for (size_t j = 0; j < cells.size(); ++j) values.push_back(cell_value(cells[j], at, j + 1));
    ++n_rows;
  }

  if (n_cols == 0) throw InputError("csv: file '" + path + "' is empty; expected rows of numbers");
  table.values =
      torch::from_blob(values.data(), {static_cast<int64_t>(n_rows), static_cast<int64_t>(n_cols)},
                       torch::kFloat64)
          .clone();
  return table;
}

void write_csv(const std::string& path, const torch::Tensor& values,
               const std::vector<std::string>& header) {
  if (!values.defined() || values.dim() != 2) {
    throw InputError("csv: values for '" + path + "' must be a 2-D tensor (rows, cols)");
  }
  if (!header.empty() && static_cast<int64_t>(header.size()) != values.size(1)) {
    throw InputError("csv: header for '" + path + "' has " + std::to_string(header.size()) +
                     " names, table has " + std::to_string(values.size(1)) + " columns");
  }
  std::string text;
  for (size_t j = 0; j < header.size(); ++j) {
    if (header[j].find_first_of(",\n") != std::string::npos) {
      throw InputError("csv: column name '" + header[j] + "' may not hold ',' or a newline");
    }
    text += (j ? "," : "") + header[j];
  }
  if (!header.empty()) text += "\n";

  // Enough significant digits that reading the text back gives the same value.
  const bool integral = !values.is_floating_point();
  const int digits = values.scalar_type() == torch::kFloat32 ? 9 : 17;
  const torch::Tensor cpu =
      values.to(torch::kCPU, integral ? torch::kInt64 : torch::kFloat64).contiguous();
  char cell[64];
  for (int64_t i = 0; i < cpu.size(0); ++i) {
    for (int64_t j = 0; j < cpu.size(1); ++j) {
      if (integral) {
        std::snprintf(cell, sizeof cell, "%lld",
                      static_cast<long long>(cpu.data_ptr<int64_t>()[i * cpu.size(1) + j]));
      } else {
        std::snprintf(cell, sizeof cell, "%.*g", digits,
                      cpu.data_ptr<double>()[i * cpu.size(1) + j]);
      }
      text += (j ? "," : "") + std::string(cell);
    }
    text += "\n";
  }
  write_text_atomically(path, text);
}

}  // namespace fm
