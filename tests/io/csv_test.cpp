#include "fm/io/csv.h"

#include <gtest/gtest.h>

#include "fm/common/error.h"
#include "fm/common/random.h"
#include "io/temp_dir.h"

namespace fm {
namespace {

using fm::testing::error_message;
using fm::testing::TempDir;
using fm::testing::write_bytes;

// Exact: 9 significant digits identify every float32, 17 every float64.
TEST(Csv, RoundTripIsExactForFloat32AndFloat64) {
  TempDir dir;
  at::Generator g = make_generator(3);
  for (auto dtype : {torch::kFloat32, torch::kFloat64}) {
    const torch::Tensor x = torch::randn({50, 3}, g, dtype) * 1e3;
    write_csv(dir.file("t.csv"), x, {"a", "b", "c"});
    const CsvTable back = read_csv(dir.file("t.csv"));
    EXPECT_EQ(back.header, (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(back.values.scalar_type(), torch::kFloat64);
    EXPECT_TRUE(torch::equal(back.values.to(dtype), x)) << dtype;
  }
}

TEST(Csv, RoundTripWithoutHeaderAndIntegers) {
  TempDir dir;
  write_csv(dir.file("i.csv"), torch::tensor({-3, 0, 7, 123456789}, torch::kInt64).view({2, 2}));
  const CsvTable back = read_csv(dir.file("i.csv"));
  EXPECT_TRUE(back.header.empty());
  EXPECT_TRUE(torch::equal(
      back.values, torch::tensor({-3.0, 0.0, 7.0, 123456789.0}, torch::kFloat64).view({2, 2})));
}

TEST(Csv, HeaderDetectedOnlyWhenNoCellOfFirstRowIsANumber) {
  TempDir dir;
  write_bytes(dir.file("h.csv"), "\"x\", y\r\n1, 2.5\r\n-3e2,4\r\n\n");
  const CsvTable t = read_csv(dir.file("h.csv"));
  EXPECT_EQ(t.header, (std::vector<std::string>{"x", "y"}));
  EXPECT_TRUE(
      torch::equal(t.values, torch::tensor({1.0, 2.5, -300.0, 4.0}, torch::kFloat64).view({2, 2})));

  write_bytes(dir.file("n.csv"), "1,2\n3,4\n");
  EXPECT_TRUE(read_csv(dir.file("n.csv")).header.empty());
  EXPECT_EQ(read_csv(dir.file("n.csv")).values.size(0), 2);
}

// Each bad cell is reported with its 1-based line and column.
struct BadCell {
  std::string text;
  std::string expected;  // a fragment the message must contain
};

class CsvRefusal : public ::testing::TestWithParam<BadCell> {};

TEST_P(CsvRefusal, NamesFileLineAndColumn) {
  TempDir dir;
  write_bytes(dir.file("bad.csv"), GetParam().text);
  const std::string msg = error_message<InputError>([&] { read_csv(dir.file("bad.csv")); });
  EXPECT_NE(msg.find("bad.csv"), std::string::npos) << msg;
  EXPECT_NE(msg.find(GetParam().expected), std::string::npos) << msg;
}

INSTANTIATE_TEST_SUITE_P(
    EachKind, CsvRefusal,
    ::testing::Values(BadCell{"a,b\n1,2\n3,\n", "line 3, column 2: cell is empty"},
                      BadCell{"1,2\n3,abc\n", "line 2, column 2: 'abc' is not a number"},
                      BadCell{"1,2,x\n", "line 1, column 3: 'x' is not a number"},
                      BadCell{"a,b\n1,0x10\n", "line 2, column 2: '0x10' is not a number"},
                      BadCell{"a,b\n-0X1p3,1\n", "line 2, column 1: '-0X1p3' is not a number"},
                      BadCell{"a,b\nnan,1\n", "line 2, column 1: 'nan' is NaN"},
                      BadCell{"a,b\n1,-inf\n", "line 2, column 2: '-inf' is infinite"},
                      BadCell{"a,b\n1,1e999\n", "line 2, column 2: '1e999' is infinite"},
                      BadCell{"1,2\n3\n", "line 2, column 2: row has 1 cells, expected 2"},
                      BadCell{"1,2\n3,4,5\n", "line 2, column 3: row has 3 cells, expected 2"},
                      BadCell{"1,2\n\n3,4\n", "line 2, column 1: line is empty"},
                      BadCell{"", "is empty"}));

TEST(Csv, WriteRefusesHeaderOfWrongLength) {
  TempDir dir;
  const std::string msg = error_message<InputError>([&] {
    write_csv(dir.file("w.csv"), torch::zeros({2, 3}), {"a", "b"});
  });
  EXPECT_NE(msg.find("2 names"), std::string::npos) << msg;
  EXPECT_NE(msg.find("3 columns"), std::string::npos) << msg;
}

}  // namespace
}  // namespace fm
