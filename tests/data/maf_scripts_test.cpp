// scripts/fetch-tabular-data.sh and scripts/convert-gas-pickle.py, run on a
// small archive with the MAF layout built from the golden inputs (no network:
// the archive comes through FM_TABULAR_ARCHIVE, the download failure from a
// file:// URL that does not exist). Needs bash, tar and Debian's
// /usr/bin/python3 with numpy and pandas; skipped where pandas is missing.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "fm/data/maf_tabular.h"
#include "fm/io/npy.h"

namespace fm {
namespace {

namespace fs = std::filesystem;

const fs::path kSource = FM_SOURCE_DIR;
const fs::path kGolden = kSource / "tests" / "data" / "golden" / "maf";
const fs::path kWork = fs::path(FM_BINARY_DIR) / "maf_scripts_test";

struct ShellResult {
  int exit_code;
  std::string output;  // stdout and stderr together
};

ShellResult run_shell(const std::string& command, const fs::path& log) {
  const int status = std::system((command + " > '" + log.string() + "' 2>&1").c_str());
  std::ifstream in(log);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1,
          std::string(std::istreambuf_iterator<char>(in), {})};
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool have_pandas() {
  static const bool found =
      std::system("/usr/bin/python3 -c 'import numpy, pandas' > /dev/null 2>&1") == 0;
  return found;
}

class FetchTabularData : public testing::Test {
 protected:
  void SetUp() override {
    if (!have_pandas()) GTEST_SKIP() << "/usr/bin/python3 lacks numpy or pandas";
    dir_ = kWork / testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "staging" / "data" / "power");
    fs::create_directories(dir_ / "staging" / "data" / "gas");
    fs::copy_file(kGolden / "power" / "power" / "data.npy",
                  dir_ / "staging" / "data" / "power" / "data.npy");
    fs::copy_file(kGolden / "gas" / "gas" / "ethylene_CO.pickle",
                  dir_ / "staging" / "data" / "gas" / "ethylene_CO.pickle");
    archive_ = dir_ / "data.tar.gz";
    const ShellResult tar = run_shell(
        "tar -czf '" + archive_.string() + "' -C '" + (dir_ / "staging").string() + "' data",
        dir_ / "tar.log");
    ASSERT_EQ(tar.exit_code, 0) << tar.output;
  }

  // Runs the fetch script into dir_/out with the given environment assignments.
  ShellResult fetch(const std::string& environment) {
    return run_shell("env " + environment + " bash '" +
                         (kSource / "scripts" / "fetch-tabular-data.sh").string() + "' '" +
                         out().string() + "'",
                     dir_ / "fetch.log");
  }

  fs::path out() const { return dir_ / "out"; }
  std::string local_archive() const { return "FM_TABULAR_ARCHIVE='" + archive_.string() + "'"; }

  fs::path dir_, archive_;
};

TEST_F(FetchTabularData, ExtractsChecksAndConvertsWhenGivenLocalArchive) {
  const ShellResult run = fetch(local_archive() + " FM_POWER_ROWS=1000 FM_GAS_ROWS=500");
  ASSERT_EQ(run.exit_code, 0) << run.output;

  EXPECT_EQ(read_bytes(out() / "power" / "data.npy"),
            read_bytes(kGolden / "power" / "power" / "data.npy"));
  EXPECT_EQ(read_bytes(out() / "gas" / "ethylene_CO.npy"),
            read_bytes(kGolden / "gas" / "gas" / "ethylene_CO.npy"));
  std::ifstream written(out() / "gas" / "ethylene_CO.columns.json");
  std::ifstream golden(kGolden / "gas" / "gas" / "ethylene_CO.columns.json");
  EXPECT_EQ(nlohmann::json::parse(written), nlohmann::json::parse(golden));

  // Leaves nothing else behind (no scratch folder, no archive copy).
  int entries = 0;
  for (const auto& entry : fs::directory_iterator(out())) entries += entry.exists() ? 1 : 0;
  EXPECT_EQ(entries, 2) << "expected only power/ and gas/ in " << out();

  // And the C++ loader reads the result.
  const TableSplits gas = load_gas(out().string());
  EXPECT_TRUE(
      torch::equal(gas.test, read_npy((kGolden / "gas" / "expected" / "test.npy").string())));
}

TEST_F(FetchTabularData, FailsNamingShapeWhenPowerRowsDifferFromArchive) {
  const ShellResult run = fetch(local_archive());  // expects the real 2049280 rows
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.output.find("data/power/data.npy"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("shape (1000, 8), expected (2049280, 8)"), std::string::npos)
      << run.output;
  EXPECT_FALSE(fs::exists(out() / "power" / "data.npy"));
}

TEST_F(FetchTabularData, FailsNamingRowsWhenGasTableIsShort) {
  const ShellResult run = fetch(local_archive() + " FM_POWER_ROWS=1000");
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.output.find("has 500 rows, expected 1052065"), std::string::npos) << run.output;
  EXPECT_FALSE(fs::exists(out() / "gas" / "ethylene_CO.npy"));
}

TEST_F(FetchTabularData, FailsWithAdviceWhenHostIsUnreachable) {
  const ShellResult run = fetch("FM_TABULAR_URL=file:///nonexistent/flowmatch/data.tar.gz");
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.output.find("cannot download file:///nonexistent/flowmatch/data.tar.gz"),
            std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("FM_TABULAR_ARCHIVE=/path/to/data.tar.gz"), std::string::npos)
      << run.output;
  EXPECT_FALSE(fs::exists(out() / "data.tar.gz"));
  EXPECT_FALSE(fs::exists(out() / "data.tar.gz.part"));
}

TEST_F(FetchTabularData, FailsClearlyWhenArchiveIsCorrupt) {
  std::ofstream(archive_, std::ios::binary | std::ios::trunc) << "not a gzip file";
  const ShellResult run = fetch(local_archive());
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.output.find("cannot extract data/power/data.npy"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("not the MAF data.tar.gz"), std::string::npos) << run.output;
}

TEST(ConvertGasPickle, FailsNamingFileWhenPickleIsNotAFrame) {
  if (!have_pandas()) GTEST_SKIP() << "/usr/bin/python3 lacks numpy or pandas";
  const fs::path dir = kWork / "convert_bad_pickle";
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "ethylene_CO.pickle", std::ios::binary) << "garbage";
  const ShellResult run =
      run_shell("/usr/bin/python3 '" + (kSource / "scripts" / "convert-gas-pickle.py").string() +
                    "' '" + (dir / "ethylene_CO.pickle").string() + "'",
                dir / "convert.log");
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.output.find("cannot unpickle " + (dir / "ethylene_CO.pickle").string()),
            std::string::npos)
      << run.output;
  EXPECT_FALSE(fs::exists(dir / "ethylene_CO.npy"));
}

}  // namespace
}  // namespace fm
