#include "fm/data/maf_tabular.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "fm/common/error.h"
#include "fm/data/maf_reductions.h"
#include "fm/data/numpy_random.h"
#include "fm/io/npy.h"

namespace fm {
namespace {

namespace fs = std::filesystem;

const char kFetchHint[] = "run scripts/fetch-tabular-data.sh";
const char kConvertHint[] = "run scripts/convert-gas-pickle.py first";

// POWER: the archive's 8 columns, of which the reference keeps 0, 2, 4, 5, 6, 7.
constexpr int64_t kPowerRawColumns = 8;
constexpr int64_t kPowerColumns = 6;
constexpr uint32_t kPowerSeed = 42;
const std::vector<std::string> kPowerNames = {
    "global_active_power", "voltage", "sub_metering_1", "sub_metering_2", "sub_metering_3", "time"};

// GAS: columns the reference drops by name before anything else.
const std::vector<std::string> kGasDropped = {"Meth", "Eth", "Time"};
constexpr double kGasCorrelationLimit = 0.98;

std::string shape_string(const torch::Tensor& t) { return c10::str(t.sizes()); }

// Reads a float64 (N, D) table; read_npy's own message names the file, this
// adds the component and what to do about it.
torch::Tensor read_table(const std::string& component, const std::string& path,
                         const std::string& hint) {
  torch::Tensor table;
  try {
    table = read_npy(path);
  } catch (const InputError& e) {
    throw InputError(component + ": cannot read '" + path + "': " + e.what() +
                     " (the file may be truncated or corrupted; " + hint + ")");
  }
  if (table.dim() != 2 || table.scalar_type() != torch::kFloat64) {
    throw InputError(component + ": '" + path + "' holds a " +
                     std::string(c10::toString(table.scalar_type())) + " array of shape " +
                     shape_string(table) + "; expected a float64 (N, D) table (" + hint + ")");
  }
  return table.contiguous();
}

void require_splittable(const std::string& component, const std::string& path, int64_t n) {
  const SplitSizes sizes = maf_split_sizes(n);
  if (sizes.test < 1 || sizes.val < 1 || sizes.train < 2) {
    throw InputError(component + ": '" + path + "' has " + std::to_string(n) +
                     " rows; the 10%/10% split needs at least 11");
  }
}

// Normalises x: (n, d) row-major with (x - mean) / std and cuts it into the
// reference's train / val / test blocks, in row order.
TableSplits split_normalised(const std::vector<double>& x, int64_t n, int64_t d,
                             const std::vector<double>& mean, const std::vector<double>& stddev,
                             std::vector<std::string> columns) {
  const SplitSizes sizes = maf_split_sizes(n);
  auto block = [&](int64_t begin, int64_t rows) {
    torch::Tensor out = torch::empty({rows, d}, torch::kFloat64);
    double* z = out.data_ptr<double>();
    const double* src = x.data() + begin * d;
    for (int64_t i = 0; i < rows; ++i) {
      for (int64_t j = 0; j < d; ++j) z[i * d + j] = (src[i * d + j] - mean[j]) / stddev[j];
    }
    return out;
  };
  TableSplits splits;
  splits.train = block(0, sizes.train);
  splits.val = block(sizes.train, sizes.val);
  splits.test = block(sizes.train + sizes.val, sizes.test);
  auto to_tensor = [](const std::vector<double>& v) {
    return torch::tensor(v, torch::TensorOptions().dtype(torch::kFloat64));
  };
  splits.normalisation = Standardizer(to_tensor(mean), to_tensor(stddev));
  splits.columns = std::move(columns);
  return splits;
}

// Steps 2-3 of the reference on the shuffled (n, 8) table: delete columns 3
// and 1, then add noise drawn in the reference's order (voltage, then gap,
// then the three sub-meterings row by row; time gets + 0.0).
std::vector<double> power_with_noise(const double* raw, int64_t n, NumpyRandomState& rng) {
  const int64_t d = kPowerColumns;
  std::vector<double> x(static_cast<size_t>(n * d));
  const int64_t kept[kPowerColumns] = {0, 2, 4, 5, 6, 7};
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < d; ++j) x[i * d + j] = raw[i * kPowerRawColumns + kept[j]];
  }
  // Each noise value is formed in its own statement so it is rounded before
  // the addition, as NumPy's separate array operations round it.
  for (int64_t i = 0; i < n; ++i) {
    const double voltage_noise = 0.01 * rng.next_double();
    x[i * d + 1] += voltage_noise;
  }
  for (int64_t i = 0; i < n; ++i) {
    const double gap_noise = 0.001 * rng.next_double();
    x[i * d + 0] += gap_noise;
  }
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 2; j < 5; ++j) x[i * d + j] += rng.next_double();
  }
  // Adding zeros is not a no-op: it turns -0.0 into +0.0, as data + noise does.
  for (int64_t i = 0; i < n; ++i) x[i * d + 5] += 0.0;
  return x;
}

// The converted GAS table: values (N, K) and, per column, its name and the
// order in which the reference's pandas adds it for mean and std.
struct GasTable {
  std::string path;
  torch::Tensor values;
  std::vector<std::string> names;
  std::vector<Summation> mean_order, std_order;
};

std::vector<Summation> read_orders(const nlohmann::json& meta, const std::string& key, size_t k,
                                   Summation fallback, const std::string& where) {
  const auto summation = meta.find("summation");
  if (summation == meta.end() || !summation->contains(key)) {
    return std::vector<Summation>(k, fallback);
  }
  const nlohmann::json& list = summation->at(key);
  if (!list.is_array() || list.size() != k) {
    throw InputError("gas: '" + where + "' key 'summation." + key + "' must list " +
                     std::to_string(k) + " entries, one per column; " + kConvertHint);
  }
  std::vector<Summation> orders;
  for (const nlohmann::json& item : list) {
    if (item == "pairwise") {
      orders.push_back(Summation::kPairwise);
    } else if (item == "sequential") {
      orders.push_back(Summation::kSequential);
    } else {
      throw InputError("gas: '" + where + "' key 'summation." + key + "' has entry " + item.dump() +
                       "; expected \"pairwise\" or \"sequential\"");
    }
  }
  return orders;
}

// Column names and summation orders from ethylene_CO.columns.json, one per
// column of table.values.
void read_gas_meta(const std::string& path, GasTable& table) {
  nlohmann::json meta;
  try {
    std::ifstream in(path);
    meta = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw InputError("gas: '" + path + "' is not valid JSON (" + e.what() + "); " + kConvertHint);
  }
  const auto columns = meta.find("columns");
  if (!meta.is_object() || columns == meta.end() || !columns->is_array()) {
    throw InputError("gas: '" + path + "' has no 'columns' list; " + kConvertHint);
  }
  for (const nlohmann::json& name : *columns) {
    if (!name.is_string()) {
      throw InputError("gas: '" + path + "' key 'columns' holds " + name.dump() +
                       "; column names must be strings");
    }
    table.names.push_back(name.get<std::string>());
  }
  const size_t k = table.names.size();
  if (static_cast<int64_t>(k) != table.values.size(1)) {
    throw InputError("gas: '" + path + "' names " + std::to_string(k) + " columns but '" +
                     table.path + "' has shape " + shape_string(table.values) + "; " +
                     kConvertHint + " again");
  }
  // Defaults: the reference's pandas with bottleneck, columns stored contiguously.
  table.mean_order = read_orders(meta, "mean", k, Summation::kPairwise, path);
  table.std_order = read_orders(meta, "std", k, Summation::kSequential, path);
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

GasTable read_gas_table(const std::string& root) {
  const fs::path dir = fs::path(root) / "gas";
  GasTable table;
  table.path = (dir / "ethylene_CO.npy").string();
  const std::string meta_path = (dir / "ethylene_CO.columns.json").string();
  const std::string pickle_path = (dir / "ethylene_CO.pickle").string();
  if (!fs::exists(table.path) || !fs::exists(meta_path)) {
    const std::string missing = fs::exists(table.path) ? meta_path : table.path;
    if (fs::exists(pickle_path)) {
      throw InputError("gas: '" + missing + "' not found but '" + pickle_path + "' exists; " +
                       kConvertHint + " (the C++ side never reads pandas pickles)");
    }
    throw InputError("gas: '" + missing + "' not found; " + kFetchHint +
                     " (it downloads the MAF archive and converts the GAS pickle)");
  }
  table.values = read_table("gas", table.path, kConvertHint);
  read_gas_meta(meta_path, table);
  for (const std::string& required : kGasDropped) {
    if (std::find(table.names.begin(), table.names.end(), required) == table.names.end()) {
      throw InputError("gas: '" + meta_path + "' has columns [" + joined(table.names) +
                       "]; GAS needs the ethylene_CO columns Time, Meth and Eth and the "
                       "sensor columns");
    }
  }
  return table;
}

void require_finite(const GasTable& table, const std::vector<int64_t>& columns) {
  const double* x = table.values.data_ptr<double>();
  const int64_t n = table.values.size(0), k = table.values.size(1);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t c : columns) {
      if (!std::isfinite(x[i * k + c])) {
        throw InputError("gas: '" + table.path + "' row " + std::to_string(i) + " column '" +
                         table.names[c] + "' is " + std::to_string(x[i * k + c]) +
                         "; the reference preprocessing needs finite values");
      }
    }
  }
}

// Step 2: while some column correlates > 0.98 with another (signed; the
// diagonal counts, so B > 1), drop the first such column by name. Like
// DataFrame.drop, dropping a name drops every column carrying it.
std::vector<int64_t> drop_correlated(const GasTable& table, std::vector<int64_t> kept) {
  const std::vector<double> corr = pandas_pearson(table.values.data_ptr<double>(),
                                                  table.values.size(0), table.values.size(1), kept);
  const size_t k0 = kept.size();
  std::vector<size_t> alive(k0);  // positions into corr, in column order
  for (size_t p = 0; p < k0; ++p) alive[p] = p;
  for (;;) {
    auto over_limit = [&](size_t p) {
      int count = 0;
      for (size_t q : alive) count += corr[p * k0 + q] > kGasCorrelationLimit ? 1 : 0;
      return count > 1;
    };
    const auto first = std::find_if(alive.begin(), alive.end(), over_limit);
    if (first == alive.end()) break;
    const std::string name = table.names[kept[*first]];
    alive.erase(std::remove_if(alive.begin(), alive.end(),
                               [&](size_t p) { return table.names[kept[p]] == name; }),
                alive.end());
  }
  std::vector<int64_t> result;
  for (size_t p : alive) result.push_back(kept[p]);
  return result;
}

}  // namespace

SplitSizes maf_split_sizes(int64_t n) {
  // int(0.1 * n) in Python: a double product, truncated.
  const auto test = static_cast<int64_t>(0.1 * static_cast<double>(n));
  const auto val = static_cast<int64_t>(0.1 * static_cast<double>(n - test));
  return {n - test - val, val, test};
}

TableSplits load_power(const std::string& root) {
  const std::string path = (fs::path(root) / "power" / "data.npy").string();
  if (!fs::exists(path)) {
    throw InputError("power: '" + path + "' not found; " + kFetchHint +
                     " (it downloads the MAF archive into data/)");
  }
  torch::Tensor raw = read_table("power", path, kFetchHint);
  if (raw.size(1) != kPowerRawColumns) {
    throw InputError("power: '" + path + "' has shape " + shape_string(raw) +
                     "; POWER needs 8 columns (the MAF archive's power/data.npy, 2049280 x 8)");
  }
  const int64_t n = raw.size(0);
  require_splittable("power", path, n);

  // 1. rng = RandomState(42); rng.shuffle(data): rows, in place.
  NumpyRandomState rng(kPowerSeed);
  rng.shuffle_rows(raw.data_ptr<double>(), n, kPowerRawColumns);

  // 2-3. Drop columns, add noise from the same generator.
  const std::vector<double> x = power_with_noise(raw.data_ptr<double>(), n, rng);
  raw = torch::Tensor();  // 8 columns no longer needed

  // 5. np.mean / np.std (ddof 0) over train and validation together: the
  //    first n_train + n_val rows; axis-0 reductions add rows in order.
  const SplitSizes sizes = maf_split_sizes(n);
  const int64_t fit_rows = sizes.train + sizes.val;
  std::vector<double> mean(kPowerColumns), stddev(kPowerColumns);
  for (int64_t j = 0; j < kPowerColumns; ++j) {
    mean[j] = mean_in_order(Summation::kSequential, x.data() + j, fit_rows, kPowerColumns);
    stddev[j] = two_pass_std(Summation::kSequential, x.data() + j, fit_rows, kPowerColumns, 0);
    if (!(stddev[j] > 0.0) || !std::isfinite(mean[j] + stddev[j])) {
      throw InputError("power: column '" + kPowerNames[j] + "' of '" + path + "' has mean " +
                       std::to_string(mean[j]) + " and std " + std::to_string(stddev[j]) +
                       "; normalising needs finite values and std > 0");
    }
  }
  // 4. Split (train, val, test in row order) and normalise.
  return split_normalised(x, n, kPowerColumns, mean, stddev, kPowerNames);
}

TableSplits load_gas(const std::string& root) {
  const GasTable table = read_gas_table(root);
  const int64_t n = table.values.size(0), k = table.values.size(1);
  require_splittable("gas", table.path, n);

  // 1. Drop Meth, Eth and Time.
  std::vector<int64_t> kept;
  for (int64_t c = 0; c < k; ++c) {
    const std::string& name = table.names[c];
    if (std::find(kGasDropped.begin(), kGasDropped.end(), name) == kGasDropped.end()) {
      kept.push_back(c);
    }
  }
  require_finite(table, kept);

  // 2. Drop strongly correlated columns.
  kept = drop_correlated(table, kept);
  if (kept.empty()) {
    throw InputError("gas: every sensor column of '" + table.path +
                     "' was dropped as correlated; nothing is left to model");
  }

  // 3. (x - mean) / std with pandas' mean and sample std over all rows.
  const double* x = table.values.data_ptr<double>();
  const auto d = static_cast<int64_t>(kept.size());
  std::vector<double> mean(d), stddev(d), data(static_cast<size_t>(n * d));
  std::vector<std::string> names;
  for (int64_t j = 0; j < d; ++j) {
    const int64_t c = kept[j];
    mean[j] = mean_in_order(table.mean_order[c], x + c, n, k);
    stddev[j] = two_pass_std(table.std_order[c], x + c, n, k, 1);
    if (!(stddev[j] > 0.0)) {
      throw InputError("gas: column '" + table.names[c] + "' of '" + table.path +
                       "' is constant; normalising needs std > 0");
    }
    for (int64_t i = 0; i < n; ++i) data[i * d + j] = x[i * k + c];
    names.push_back(table.names[c]);
  }
  // 4. Split without shuffling.
  return split_normalised(data, n, d, mean, stddev, std::move(names));
}

}  // namespace fm
