// POWER and GAS against the MAF preprocessing run with NumPy / pandas.
//
// tests/data/golden/maf was written by scripts/make-maf-golden.py with
// Debian 12's /usr/bin/python3 (numpy 1.24.2, pandas 1.5.3, bottleneck 1.3.5):
// small inputs in the archive's formats and every value the reference
// pipelines produce from them. All comparisons are exact (float64 ==).
#include "fm/data/maf_tabular.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>

#include "fm/common/error.h"
#include "fm/data/maf_reductions.h"
#include "fm/data/numpy_random.h"
#include "fm/io/npy.h"

namespace fm {
namespace {

namespace fs = std::filesystem;

const fs::path kGolden = fs::path(FM_SOURCE_DIR) / "tests" / "data" / "golden" / "maf";

// A fresh, empty directory for one test.
fs::path scratch_dir(const std::string& name) {
  const fs::path dir = fs::path(FM_BINARY_DIR) / "maf_tabular_test" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string hex(double v) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%a", v);
  return buffer;
}

// Exact equality of two float64 tensors, reporting the first difference.
void expect_identical(const torch::Tensor& actual, const torch::Tensor& expected,
                      const std::string& what) {
  ASSERT_EQ(actual.scalar_type(), torch::kFloat64) << what;
  ASSERT_EQ(actual.sizes(), expected.sizes()) << what;
  const torch::Tensor a = actual.contiguous(), e = expected.contiguous();
  const double* pa = a.data_ptr<double>();
  const double* pe = e.data_ptr<double>();
  int64_t mismatches = 0, first = -1;
  for (int64_t i = 0; i < a.numel(); ++i) {
    if (!(pa[i] == pe[i])) {
      if (first < 0) first = i;
      ++mismatches;
    }
  }
  EXPECT_EQ(mismatches, 0) << what << ": first difference at flat index " << first << ": "
                           << (first >= 0 ? hex(pa[first]) + " vs numpy " + hex(pe[first]) : "");
}

std::vector<std::string> expected_columns(const fs::path& expected_dir) {
  std::ifstream in(expected_dir / "columns.json");
  return nlohmann::json::parse(in).get<std::vector<std::string>>();
}

void expect_matches_golden(const TableSplits& splits, const fs::path& expected_dir) {
  const auto golden = [&](const char* name) {
    return read_npy((expected_dir / (std::string(name) + ".npy")).string());
  };
  expect_identical(splits.train, golden("train"), "train");
  expect_identical(splits.val, golden("val"), "val");
  expect_identical(splits.test, golden("test"), "test");
  expect_identical(splits.normalisation.mean(), golden("mean"), "mean");
  expect_identical(splits.normalisation.std(), golden("std"), "std");
  EXPECT_EQ(splits.columns, expected_columns(expected_dir));
}

template <typename F>
std::string input_error_message(F&& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("unexpected exception type: ") + e.what();
  }
  return "no exception";
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// ---------------------------------------------------------------- split sizes

TEST(MafSplitSizes, MatchReferenceForFullPowerRows) {
  const SplitSizes s = maf_split_sizes(2049280);
  EXPECT_EQ(s.train, 1659917);
  EXPECT_EQ(s.val, 184435);
  EXPECT_EQ(s.test, 204928);
}

TEST(MafSplitSizes, MatchReferenceForFullGasRows) {
  const SplitSizes s = maf_split_sizes(1052065);
  EXPECT_EQ(s.train, 852174);
  EXPECT_EQ(s.val, 94685);
  EXPECT_EQ(s.test, 105206);
}

TEST(MafSplitSizes, TruncateTenPercentTwiceForSmallTables) {
  const SplitSizes s = maf_split_sizes(1000);
  EXPECT_EQ(s.test, 100);
  EXPECT_EQ(s.val, 90);
  EXPECT_EQ(s.train, 810);
  const SplitSizes t = maf_split_sizes(19);  // int(1.9) = 1, then int(1.8) = 1
  EXPECT_EQ(t.test, 1);
  EXPECT_EQ(t.val, 1);
  EXPECT_EQ(t.train, 17);
}

// ----------------------------------------------------------------- reductions
// Inputs are RandomState(7).rand(...) (NumpyRandomState reproduces it); the
// expected sums were printed by numpy / pandas / bottleneck with float.hex:
//   u = RandomState(7).rand(20000); u.sum(), u[:5].sum(), u[:100].sum(), u[:1000].sum()
//   x = RandomState(7).rand(10000, 2); x.sum(0), x.std(0), bn.nanstd(x, 0, ddof=1)
//   pd.DataFrame({'a': x[:, 0].copy(), ...}).mean()   (columns contiguous)
//   pd.DataFrame(x.copy(), columns=[...]).mean()      (rows contiguous)

std::vector<double> rand_values(int64_t n) {
  NumpyRandomState rng(7);
  std::vector<double> u(static_cast<size_t>(n));
  rng.rand(u.data(), n);
  return u;
}

TEST(NumpyReductions, PairwiseSumMatchesNumpyForContiguousRuns) {
  const std::vector<double> u = rand_values(20000);
  EXPECT_EQ(hex(numpy_pairwise_sum(u.data(), 5, 1)), hex(0x1.7f7fe8f49c302p+1));
  EXPECT_EQ(hex(numpy_pairwise_sum(u.data(), 100, 1)), hex(0x1.9c95e94a21cf4p+5));
  EXPECT_EQ(hex(numpy_pairwise_sum(u.data(), 1000, 1)), hex(0x1.f118e65c9df32p+8));
  // More than one 8192-element buffer block.
  EXPECT_EQ(hex(numpy_pairwise_sum(u.data(), 20000, 1)), hex(0x1.377e99e0220c9p+13));
}

TEST(NumpyReductions, Axis0SumAndStdMatchNumpyForCOrderTable) {
  const std::vector<double> x = rand_values(20000);  // (10000, 2), row-major
  EXPECT_EQ(hex(sequential_sum(x.data(), 10000, 2)), hex(0x1.37d596b5b5389p+12));
  EXPECT_EQ(hex(sequential_sum(x.data() + 1, 10000, 2)), hex(0x1.37279d0a8ee26p+12));
  EXPECT_EQ(hex(two_pass_std(Summation::kSequential, x.data(), 10000, 2, 0)),
            hex(0x1.27a29412dda1ep-2));
  EXPECT_EQ(hex(two_pass_std(Summation::kSequential, x.data() + 1, 10000, 2, 0)),
            hex(0x1.28b8153e1683ap-2));
}

TEST(NumpyReductions, StdMatchesBottleneckWithOneDegreeOfFreedom) {
  const std::vector<double> x = rand_values(20000);
  EXPECT_EQ(hex(two_pass_std(Summation::kSequential, x.data(), 10000, 2, 1)),
            hex(0x1.27a65ce223d6bp-2));
  EXPECT_EQ(hex(two_pass_std(Summation::kSequential, x.data() + 1, 10000, 2, 1)),
            hex(0x1.28bbe19ac1e21p-2));
}

TEST(NumpyReductions, PandasMeanDependsOnBlockLayout) {
  const std::vector<double> x = rand_values(20000);
  EXPECT_EQ(hex(mean_in_order(Summation::kPairwise, x.data(), 10000, 2)),
            hex(0x1.fee8cc53146f2p-2));
  EXPECT_EQ(hex(mean_in_order(Summation::kPairwise, x.data() + 1, 10000, 2)),
            hex(0x1.fdcbc1cef1761p-2));
  EXPECT_EQ(hex(mean_in_order(Summation::kSequential, x.data(), 10000, 2)),
            hex(0x1.fee8cc53146ebp-2));
  EXPECT_EQ(hex(mean_in_order(Summation::kSequential, x.data() + 1, 10000, 2)),
            hex(0x1.fdcbc1cef1797p-2));
}

TEST(PandasPearson, MatchesPandasCorrBitForBit) {
  // corr.npy: data.corr() after dropping Time, Meth and Eth (columns 3..18).
  const torch::Tensor table = read_npy((kGolden / "gas" / "gas" / "ethylene_CO.npy").string());
  std::vector<int64_t> sensors;
  for (int64_t c = 3; c < 19; ++c) sensors.push_back(c);
  const std::vector<double> corr =
      pandas_pearson(table.data_ptr<double>(), table.size(0), table.size(1), sensors);
  expect_identical(torch::tensor(corr, torch::kFloat64).reshape({16, 16}),
                   read_npy((kGolden / "gas" / "expected" / "corr.npy").string()), "corr");
}

// ---------------------------------------------------------------------- POWER

TEST(LoadPower, MatchesNumpyBitForBitOnGoldenInput) {
  const TableSplits splits = load_power((kGolden / "power").string());
  EXPECT_EQ(splits.train.size(0), 810);
  EXPECT_EQ(splits.val.size(0), 90);
  EXPECT_EQ(splits.test.size(0), 100);
  EXPECT_EQ(splits.train.size(1), 6);
  expect_matches_golden(splits, kGolden / "power" / "expected");
}

TEST(LoadPower, ThrowsInputErrorNamingFetchScriptWhenFileIsMissing) {
  const fs::path root = scratch_dir("power_missing");
  const std::string message = input_error_message([&] { load_power(root.string()); });
  EXPECT_NE(message.find((root / "power" / "data.npy").string()), std::string::npos) << message;
  EXPECT_NE(message.find("scripts/fetch-tabular-data.sh"), std::string::npos) << message;
}

TEST(LoadPower, ThrowsInputErrorNamingFileWhenTruncated) {
  const fs::path root = scratch_dir("power_truncated");
  const std::string whole = read_bytes(kGolden / "power" / "power" / "data.npy");
  const fs::path path = root / "power" / "data.npy";
  write_bytes(path, whole.substr(0, whole.size() / 2));
  const std::string message = input_error_message([&] { load_power(root.string()); });
  EXPECT_NE(message.find("power:"), std::string::npos) << message;
  EXPECT_NE(message.find(path.string()), std::string::npos) << message;
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;
}

TEST(LoadPower, ThrowsInputErrorWhenTableDoesNotHave8Columns) {
  const fs::path root = scratch_dir("power_columns");
  fs::create_directories(root / "power");
  write_npy((root / "power" / "data.npy").string(), torch::rand({50, 7}, torch::kFloat64));
  const std::string message = input_error_message([&] { load_power(root.string()); });
  EXPECT_NE(message.find("[50, 7]"), std::string::npos) << message;
  EXPECT_NE(message.find("8 columns"), std::string::npos) << message;
}

TEST(LoadPower, ThrowsInputErrorWhenTableIsFloat32) {
  const fs::path root = scratch_dir("power_float32");
  fs::create_directories(root / "power");
  write_npy((root / "power" / "data.npy").string(), torch::rand({50, 8}));
  const std::string message = input_error_message([&] { load_power(root.string()); });
  EXPECT_NE(message.find("float64"), std::string::npos) << message;
}

TEST(LoadPower, ThrowsInputErrorWhenTooFewRowsToSplit) {
  const fs::path root = scratch_dir("power_rows");
  fs::create_directories(root / "power");
  write_npy((root / "power" / "data.npy").string(), torch::rand({10, 8}, torch::kFloat64));
  const std::string message = input_error_message([&] { load_power(root.string()); });
  EXPECT_NE(message.find("has 10 rows"), std::string::npos) << message;
  EXPECT_NE(message.find("at least 11"), std::string::npos) << message;
}

// ------------------------------------------------------------------------ GAS

class LoadGasGolden : public testing::TestWithParam<std::string> {};

TEST_P(LoadGasGolden, MatchesPandasBitForBit) {
  const fs::path dir = kGolden / GetParam();
  const TableSplits splits = load_gas(dir.string());
  expect_matches_golden(splits, dir / "expected");
  const SplitSizes sizes = maf_split_sizes(500);
  EXPECT_EQ(splits.train.size(0), sizes.train);
  EXPECT_EQ(splits.val.size(0), sizes.val);
  EXPECT_EQ(splits.test.size(0), sizes.test);
}

// gas: columns stored contiguously, unique names; gas_rowmajor: rows stored
// contiguously, duplicate sensor names (a drop removes all of a name);
// gas_nobottleneck: pandas' std through numpy instead of bottleneck.
INSTANTIATE_TEST_SUITE_P(Cases, LoadGasGolden,
                         testing::Values("gas", "gas_rowmajor", "gas_nobottleneck"));

// Copies the golden GAS input into a scratch root, for tests that damage it.
fs::path gas_copy(const std::string& name) {
  const fs::path root = scratch_dir(name);
  fs::create_directories(root / "gas");
  for (const char* file : {"ethylene_CO.npy", "ethylene_CO.columns.json"}) {
    fs::copy_file(kGolden / "gas" / "gas" / file, root / "gas" / file);
  }
  return root;
}

TEST(LoadGas, ThrowsInputErrorNamingConverterWhenOnlyPickleExists) {
  const fs::path root = scratch_dir("gas_pickle_only");
  write_bytes(root / "gas" / "ethylene_CO.pickle", "not really a pickle");
  const std::string message = input_error_message([&] { load_gas(root.string()); });
  EXPECT_NE(message.find((root / "gas" / "ethylene_CO.npy").string()), std::string::npos)
      << message;
  EXPECT_NE(message.find("scripts/convert-gas-pickle.py"), std::string::npos) << message;
}

TEST(LoadGas, ThrowsInputErrorNamingFetchScriptWhenNothingExists) {
  const fs::path root = scratch_dir("gas_missing");
  const std::string message = input_error_message([&] { load_gas(root.string()); });
  EXPECT_NE(message.find("scripts/fetch-tabular-data.sh"), std::string::npos) << message;
}

TEST(LoadGas, ThrowsInputErrorNamingConverterWhenColumnsFileIsMissing) {
  const fs::path root = gas_copy("gas_no_columns");
  fs::remove(root / "gas" / "ethylene_CO.columns.json");
  write_bytes(root / "gas" / "ethylene_CO.pickle", "x");
  const std::string message = input_error_message([&] { load_gas(root.string()); });
  EXPECT_NE(message.find("ethylene_CO.columns.json"), std::string::npos) << message;
  EXPECT_NE(message.find("scripts/convert-gas-pickle.py"), std::string::npos) << message;
}

TEST(LoadGas, ThrowsInputErrorNamingFileWhenTableIsTruncated) {
  const fs::path root = gas_copy("gas_truncated");
  const fs::path path = root / "gas" / "ethylene_CO.npy";
  const std::string whole = read_bytes(path);
  write_bytes(path, whole.substr(0, whole.size() - 100));
  const std::string message = input_error_message([&] { load_gas(root.string()); });
  EXPECT_NE(message.find(path.string()), std::string::npos) << message;
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;
}

void rewrite_columns(const fs::path& root, const std::function<void(nlohmann::json&)>& edit) {
  const fs::path path = root / "gas" / "ethylene_CO.columns.json";
  std::ifstream in(path);
  nlohmann::json meta = nlohmann::json::parse(in);
  in.close();
  edit(meta);
  std::ofstream(path) << meta.dump();
}

TEST(LoadGas, ThrowsInputErrorWhenRequiredColumnIsMissing) {
  const fs::path root = gas_copy("gas_no_meth");
  rewrite_columns(root, [](nlohmann::json& meta) { meta["columns"][1] = "Methane"; });
  const std::string message = input_error_message([&] { load_gas(root.string()); });
  EXPECT_NE(message.find("Methane"), std::string::npos) << message;
  EXPECT_NE(message.find("Time, Meth and Eth"), std::string::npos) << message;
}

TEST(LoadGas, ThrowsInputErrorWhenNamesDisagreeWithTableWidth) {
  const fs::path root = gas_copy("gas_width");
  rewrite_columns(root, [](nlohmann::json& meta) { meta["columns"].erase(18); });
  const std::string message = input_error_message([&] { load_gas(root.string()); });
  EXPECT_NE(message.find("18 columns"), std::string::npos) << message;
  EXPECT_NE(message.find("[500, 19]"), std::string::npos) << message;
}

TEST(LoadGas, ThrowsInputErrorWhenSummationOrderIsUnknown) {
  const fs::path root = gas_copy("gas_summation");
  rewrite_columns(root, [](nlohmann::json& meta) { meta["summation"]["mean"][4] = "kahan"; });
  const std::string message = input_error_message([&] { load_gas(root.string()); });
  EXPECT_NE(message.find("summation.mean"), std::string::npos) << message;
  EXPECT_NE(message.find("kahan"), std::string::npos) << message;
}

TEST(LoadGas, ThrowsInputErrorNamingRowWhenValueIsNotFinite) {
  const fs::path root = gas_copy("gas_nan");
  const fs::path path = root / "gas" / "ethylene_CO.npy";
  torch::Tensor table = read_npy(path.string());
  table[123][7] = std::numeric_limits<double>::quiet_NaN();
  write_npy(path.string(), table);
  const std::string message = input_error_message([&] { load_gas(root.string()); });
  EXPECT_NE(message.find("row 123"), std::string::npos) << message;
  EXPECT_NE(message.find("'S5'"), std::string::npos) << message;
}

TEST(LoadGas, ThrowsInputErrorNamingColumnWhenItIsConstant) {
  const fs::path root = gas_copy("gas_constant");
  const fs::path path = root / "gas" / "ethylene_CO.npy";
  torch::Tensor table = read_npy(path.string());
  table.select(1, 18).fill_(3.5);  // S16: correlations NaN, so it survives to normalisation
  write_npy(path.string(), table);
  const std::string message = input_error_message([&] { load_gas(root.string()); });
  EXPECT_NE(message.find("'S16'"), std::string::npos) << message;
  EXPECT_NE(message.find("constant"), std::string::npos) << message;
}

// ---------------------------------------------------------------- full scale

// Run by hand: data_test --gtest_also_run_disabled_tests --gtest_filter='*FullSize*'

// A POWER-sized random table must load in a few seconds.
TEST(LoadPower, DISABLED_LoadsFullSizeTableInSeconds) {
  const fs::path root = scratch_dir("power_full");
  fs::create_directories(root / "power");
  write_npy((root / "power" / "data.npy").string(), torch::rand({2049280, 8}, torch::kFloat64));
  const auto start = std::chrono::steady_clock::now();
  const TableSplits splits = load_power(root.string());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("load_power on 2049280 rows: %.2f s\n", seconds);
  EXPECT_EQ(splits.train.size(0), 1659917);
  EXPECT_LT(seconds, 10.0);
  fs::remove_all(root);
}

// A GAS-sized random table (no columns correlated) must load in a few seconds.
TEST(LoadGas, DISABLED_LoadsFullSizeTableInSeconds) {
  const fs::path root = gas_copy("gas_full");
  write_npy((root / "gas" / "ethylene_CO.npy").string(),
            torch::rand({1052065, 19}, torch::kFloat64));
  const auto start = std::chrono::steady_clock::now();
  const TableSplits splits = load_gas(root.string());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("load_gas on 1052065 rows: %.2f s\n", seconds);
  EXPECT_EQ(splits.train.size(0), 852174);
  EXPECT_LT(seconds, 10.0);
  fs::remove_all(root);
}

}  // namespace
}  // namespace fm
