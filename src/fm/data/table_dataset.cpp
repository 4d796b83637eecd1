// Tables from .npy or CSV files: finite splits, standardised with training statistics.
#include <cmath>
#include <nlohmann/json.hpp>

#include "fm/common/error.h"
#include "fm/common/random.h"
#include "fm/data/dataset_impl.h"
#include "fm/io/csv.h"
#include "fm/io/npy.h"

namespace fm {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Rejects the first non-finite cell, naming its row and column.
void check_finite(const torch::Tensor& x, const std::string& where) {
  const torch::Tensor bad = torch::nonzero(~torch::isfinite(x));
  if (bad.size(0) == 0) return;
  const int64_t row = bad[0][0].item<int64_t>(), col = bad[0][1].item<int64_t>();
  throw InputError("data: " + where + " row " + std::to_string(row) + ", column " +
                   std::to_string(col) + " (0-based) is " +
                   std::to_string(x[row][col].item<double>()) + "; values must be finite");
}

// Reads one table file as (N, D) float64; errors name the config key and the file.
torch::Tensor load_table(const std::string& path, const std::string& key) {
  const std::string where = key + " ('" + path + "')";
  torch::Tensor x;
  try {
    if (ends_with(path, ".npy")) {
      x = read_npy(path);
    } else if (ends_with(path, ".csv")) {
      x = read_csv(path).values;
    } else {
      throw InputError("file must end in .npy or .csv");
    }
  } catch (const InputError& e) {
    throw InputError("data: " + where + ": " + e.what());
  }
  if (x.dim() != 2 || x.size(0) < 1 || x.size(1) < 1) {
    throw InputError("data: " + where +
                     " must be a 2-D table (rows, columns) with at least one "
                     "of each, got shape " +
                     c10::str(x.sizes()));
  }
  x = x.to(torch::kFloat64);
  check_finite(x, where);
  return x;
}

struct Splits {
  torch::Tensor train, val, test;  // (N_*, D) float64
};

// Carves the splits that have no file of their own from a seeded shuffle of
// the training rows: test first, then val, the rest stays train.
Splits carve_splits(torch::Tensor rows, const TableOptions& options) {
  const int64_t n = rows.size(0);
  const int64_t n_test = options.test.empty() ? static_cast<int64_t>(options.test_fraction * n) : 0;
  const int64_t n_val = options.val.empty() ? static_cast<int64_t>(options.val_fraction * n) : 0;
  auto too_few = [&](const std::string& key, double fraction) {
    return InputError("data: data." + key + " = " + nlohmann::json(fraction).dump() + " of the " +
                      std::to_string(n) + " rows of data.train ('" + options.train +
                      "') gives an empty split; it needs at least one row");
  };
  if (options.test.empty() && n_test < 1) throw too_few("test_fraction", options.test_fraction);
  if (options.val.empty() && n_val < 1) throw too_few("val_fraction", options.val_fraction);
  if (n - n_test - n_val < 2) {
    throw InputError("data: data.train ('" + options.train + "') has " + std::to_string(n) +
                     " rows; after carving " + std::to_string(n_val) + " for val and " +
                     std::to_string(n_test) + " for test, fewer than 2 remain for training");
  }

  Splits s;
  if (n_test + n_val > 0) {
    at::Generator g = make_generator(derive_seed(options.split_seed, kTableSplitStream));
    rows = rows.index_select(0, torch::randperm(n, g, torch::kLong));
  }
  s.test = rows.slice(0, 0, n_test);
  s.val = rows.slice(0, n_test, n_test + n_val);
  s.train = rows.slice(0, n_test + n_val);
  return s;
}

class TableDataset : public Dataset {
 public:
  TableDataset(const TableOptions& options) {
    torch::Tensor train = load_table(options.train, "data.train");
    Splits s = carve_splits(train, options);
    if (!options.val.empty()) s.val = load_table(options.val, "data.val");
    if (!options.test.empty()) s.test = load_table(options.test, "data.test");
    for (const auto& [key, t] : {std::pair{"data.val", s.val}, std::pair{"data.test", s.test}}) {
      if (t.size(1) != s.train.size(1)) {
        throw InputError("data: " + std::string(key) + " has " + std::to_string(t.size(1)) +
                         " columns, data.train ('" + options.train + "') has " +
                         std::to_string(s.train.size(1)));
      }
    }

    // Statistics from the training rows only; standardise in float64, then
    // hand the model float32.
    if (options.standardize)
      standardizer_ = Standardizer::fit(s.train, "data.train ('" + options.train + "')");
    train_ = standardizer_.transform(s.train).to(torch::kFloat32);
    val_ = standardizer_.transform(s.val).to(torch::kFloat32);
    test_ = standardizer_.transform(s.test).to(torch::kFloat32);
  }

  std::string name() const override { return "table"; }
  DataKind kind() const override { return DataKind::kTable; }
  std::vector<int64_t> example_shape() const override { return {train_.size(1)}; }

  torch::Tensor sample_train(int64_t batch, at::Generator& generator) override {
    check_batch(name(), batch);
    const torch::Tensor rows = torch::randint(0, train_.size(0), {batch}, generator, torch::kLong);
    return train_.index_select(0, rows);
  }

  int64_t split_size(const std::string& split) const override { return rows(split).size(0); }

  torch::Tensor split_rows(const std::string& split, int64_t begin, int64_t end) override {
    const torch::Tensor& r = rows(split);
    check_row_range(name(), split, begin, end, r.size(0));
    return r.slice(0, begin, end);
  }

  const Standardizer& standardizer() const override { return standardizer_; }

 private:
  const torch::Tensor& rows(const std::string& split) const {
    check_split_name(name(), split);
    return split == "train" ? train_ : split == "val" ? val_ : test_;
  }

  Standardizer standardizer_;
  torch::Tensor train_, val_, test_;  // (N_*, D) float32, model space
};

// A fraction key only makes sense when its split is carved from train.
double read_fraction(ConfigSection& section, const std::string& key, const std::string& file_key,
                     bool has_file) {
  if (!has_file) return section.number(key, 0.1, 0.0, 1.0, /*min_exclusive=*/true);
  if (section.has(key)) {
    throw InputError("config: key '" + section.key_path(key) + "' cannot be used together with '" +
                     section.key_path(file_key) + "' (the split comes from that file)");
  }
  return 0.0;
}

}  // namespace

TableOptions read_table_options(ConfigSection& section) {
  TableOptions options;
  options.train = section.string("train", "");
  if (options.train.empty()) {
    throw InputError(
        "config: key 'data.train' is required for data.type \"table\": a .npy or "
        ".csv file");
  }
  if (section.has("val")) options.val = section.string("val", "");
  if (section.has("test")) options.test = section.string("test", "");
  options.val_fraction = read_fraction(section, "val_fraction", "val", !options.val.empty());
  options.test_fraction = read_fraction(section, "test_fraction", "test", !options.test.empty());
  if (options.val.empty() && options.test.empty() &&
      options.val_fraction + options.test_fraction >= 1.0) {
    throw InputError("config: keys 'data.val_fraction' + 'data.test_fraction' = " +
                     nlohmann::json(options.val_fraction + options.test_fraction).dump() +
                     " must be < 1 to leave rows for training");
  }
  if (options.val.empty() || options.test.empty()) {
    options.split_seed = static_cast<uint64_t>(section.integer("split_seed", 0, 0));
  } else if (section.has("split_seed")) {
    throw InputError(
        "config: key 'data.split_seed' is unused when both 'data.val' and "
        "'data.test' name files");
  }
  options.standardize = section.boolean("standardize", true);
  return options;
}

std::unique_ptr<Dataset> make_table_dataset(const TableOptions& options) {
  return std::make_unique<TableDataset>(options);
}

}  // namespace fm
