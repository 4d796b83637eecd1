#include "fm/io/npy.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "fm/common/error.h"
#include "fm/common/random.h"
#include "io/temp_dir.h"

namespace fm {
namespace {

using fm::testing::error_message;
using fm::testing::golden;
using fm::testing::read_bytes;
using fm::testing::TempDir;
using fm::testing::write_bytes;

// One golden file written by np.save (tests/io/golden/make_golden.py) and the
// tensor it holds.
struct GoldenCase {
  std::string file;
  torch::Tensor expected;
};

std::vector<GoldenCase> golden_cases() {
  const int64_t i32_min = std::numeric_limits<int32_t>::min();
  return {
      {"f4_2x3.npy",
       torch::tensor({1.5, -2.25, 3.0, 4.0, 5e-3, -6.0}, torch::kFloat32).view({2, 3})},
      {"f8_3.npy", torch::tensor({0.1, -1e300, 2.5}, torch::kFloat64)},
      {"u1_2x2x2.npy", (torch::arange(8, torch::kInt64) * 36).to(torch::kUInt8).view({2, 2, 2})},
      {"i4_2x2.npy",
       torch::tensor({int64_t{-1}, int64_t{2147483647}, i32_min, int64_t{0}}, torch::kInt32)
           .view({2, 2})},
      {"i8_3.npy",
       torch::tensor({-(int64_t{1} << 62), int64_t{0}, int64_t{1} << 40}, torch::kInt64)},
      {"f8_scalar.npy", torch::tensor(3.5, torch::kFloat64)},
      {"f4_0x3.npy", torch::zeros({0, 3}, torch::kFloat32)},
  };
}

class NpyGolden : public ::testing::TestWithParam<GoldenCase> {};

// Exact: the files hold these values bit for bit.
TEST_P(NpyGolden, ReadGivesNumpysDtypeShapeAndValues) {
  const GoldenCase& c = GetParam();
  const torch::Tensor t = read_npy(golden(c.file));
  EXPECT_EQ(t.scalar_type(), c.expected.scalar_type()) << c.file;
  EXPECT_EQ(t.sizes(), c.expected.sizes()) << c.file;
  EXPECT_TRUE(torch::equal(t, c.expected)) << c.file << "\n" << t;
}

// np.save's version 1.0 bytes are the reference: header, padding and data must match exactly.
TEST_P(NpyGolden, WriteGivesBytesIdenticalToNumpySave) {
  const GoldenCase& c = GetParam();
  TempDir dir;
  write_npy(dir.file(c.file), c.expected);
  EXPECT_EQ(read_bytes(dir.file(c.file)), read_bytes(golden(c.file))) << c.file;
}

INSTANTIATE_TEST_SUITE_P(EachDtype, NpyGolden, ::testing::ValuesIn(golden_cases()),
                         [](const auto& info) {
                           std::string name = info.param.file.substr(0, info.param.file.find('.'));
                           return name;
                         });

// Exact round trip for every supported dtype, including extreme values.
TEST(Npy, RoundTripIsExactForEachDtype) {
  TempDir dir;
  at::Generator g = make_generator(7);
  const std::vector<torch::Tensor> tensors = {
      torch::randn({5, 4}, g, torch::kFloat32) * 1e30, torch::randn({3, 2, 2}, g, torch::kFloat64),
      torch::randint(0, 256, {7}, g, torch::kUInt8),
      torch::randint(-1000, 1000, {2, 3}, g, torch::kInt32),
      torch::randint(-100000, 100000, {4, 1}, g, torch::kInt64)};
  for (const auto& t : tensors) {
    write_npy(dir.file("t.npy"), t);
    const torch::Tensor back = read_npy(dir.file("t.npy"));
    EXPECT_EQ(back.scalar_type(), t.scalar_type());
    EXPECT_TRUE(torch::equal(back, t)) << t.scalar_type();
  }
}

TEST(Npy, WriteStoresTheValuesOfANonContiguousView) {
  TempDir dir;
  const torch::Tensor base = torch::arange(6, torch::kFloat64).view({2, 3});
  write_npy(dir.file("t.npy"), base.t());
  EXPECT_TRUE(torch::equal(read_npy(dir.file("t.npy")), base.t().contiguous()));
}

TEST(Npy, ReadAcceptsVersion2And3Headers) {
  EXPECT_TRUE(torch::equal(read_npy(golden("v2_f4_2x2.npy")),
                           torch::tensor({1.0f, 2.0f, 3.0f, 4.0f}).view({2, 2})));
  EXPECT_TRUE(
      torch::equal(read_npy(golden("v3_f8_2.npy")), torch::tensor({-0.5, 0.25}, torch::kFloat64)));
}

TEST(Npy, ReadTransposesFortranOrderIntoCOrder) {
  const torch::Tensor a = read_npy(golden("fortran_f8_2x3.npy"));
  EXPECT_TRUE(a.is_contiguous());
  EXPECT_TRUE(torch::equal(a, torch::arange(6, torch::kFloat64).view({2, 3})));
  const torch::Tensor b = read_npy(golden("fortran_i4_2x3x4.npy"));
  EXPECT_TRUE(torch::equal(b, torch::arange(24, torch::kInt32).view({2, 3, 4})));
}

TEST(Npy, ReadRefusesBigEndianNamingDtypeAndFile) {
  const std::string msg = error_message<InputError>([] { read_npy(golden("big_endian_f4.npy")); });
  EXPECT_NE(msg.find("'>f4'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("big-endian"), std::string::npos) << msg;
  EXPECT_NE(msg.find("big_endian_f4.npy"), std::string::npos) << msg;
}

TEST(Npy, ReadRefusesObjectArraysNamingDtypeAndFile) {
  const std::string msg = error_message<InputError>([] { read_npy(golden("object.npy")); });
  EXPECT_NE(msg.find("'|O'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("object.npy"), std::string::npos) << msg;
}

TEST(Npy, ReadRefusesStructuredArrays) {
  const std::string msg = error_message<InputError>([] { read_npy(golden("structured.npy")); });
  EXPECT_NE(msg.find("structured"), std::string::npos) << msg;
  EXPECT_NE(msg.find("structured.npy"), std::string::npos) << msg;
}

TEST(Npy, ReadRefusesTruncatedDataNamingExpectedAndActualBytes) {
  TempDir dir;
  const std::string bytes = read_bytes(golden("f4_2x3.npy"));
  write_bytes(dir.file("short.npy"), bytes.substr(0, bytes.size() - 5));
  const std::string msg = error_message<InputError>([&] { read_npy(dir.file("short.npy")); });
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  EXPECT_NE(msg.find("needs 24 bytes of data, found 19"), std::string::npos) << msg;
  EXPECT_NE(msg.find("short.npy"), std::string::npos) << msg;
}

TEST(Npy, ReadRefusesTruncatedHeader) {
  TempDir dir;
  write_bytes(dir.file("cut.npy"), read_bytes(golden("f4_2x3.npy")).substr(0, 40));
  const std::string msg = error_message<InputError>([&] { read_npy(dir.file("cut.npy")); });
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  EXPECT_NE(msg.find("cut.npy"), std::string::npos) << msg;
}

TEST(Npy, ReadRefusesBadMagic) {
  TempDir dir;
  std::string bytes = read_bytes(golden("f4_2x3.npy"));
  bytes[1] = 'X';
  write_bytes(dir.file("magic.npy"), bytes);
  const std::string msg = error_message<InputError>([&] { read_npy(dir.file("magic.npy")); });
  EXPECT_NE(msg.find("bad magic"), std::string::npos) << msg;
  EXPECT_NE(msg.find("magic.npy"), std::string::npos) << msg;
}

TEST(Npy, ReadRefusesMalformedHeaders) {
  TempDir dir;
  const std::string good = read_bytes(golden("f4_2x3.npy"));
  // Same length as the original text, so only the header's content is wrong.
  const std::vector<std::pair<std::string, std::string>> edits = {
      {"(2, 3)", "(2, x)"}, {"'shape'", "'shapz'"}, {"False", "Maybe"}, {"{'descr'", "['descr'"}};
  for (const auto& [from, to] : edits) {
    std::string bytes = good;
    bytes.replace(bytes.find(from), from.size(), to);
    write_bytes(dir.file("bad.npy"), bytes);
    const std::string msg = error_message<InputError>([&] { read_npy(dir.file("bad.npy")); });
    EXPECT_NE(msg.find("malformed header"), std::string::npos) << to << ": " << msg;
    EXPECT_NE(msg.find("bad.npy"), std::string::npos) << msg;
  }
}

TEST(Npy, ReadRefusesAMissingFileNamingIt) {
  const std::string msg = error_message<InputError>([] { read_npy("/nonexistent/x.npy"); });
  EXPECT_NE(msg.find("/nonexistent/x.npy"), std::string::npos) << msg;
}

TEST(Npy, WriteRefusesUnsupportedDtypes) {
  TempDir dir;
  const std::string msg = error_message<InputError>(
      [&] { write_npy(dir.file("h.npy"), torch::zeros({2}, torch::kInt16)); });
  EXPECT_NE(msg.find("h.npy"), std::string::npos) << msg;
  EXPECT_FALSE(std::filesystem::exists(dir.file("h.npy")));
}

// numpy itself must load what we write, with the same dtype, shape and values.
// Skipped when Debian's python3 with numpy is not installed; the golden-bytes
// tests above cover the same ground without it.
TEST(Npy, NumpyLoadsWrittenFileWithSameValues) {
  if (std::system("/usr/bin/python3 -c 'import numpy' > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "/usr/bin/python3 with numpy not available";
  }
  TempDir dir;
  write_npy(dir.file("a.npy"),
            torch::tensor({0.1, -2.5, 1e-300, 7.0}, torch::kFloat64).view({2, 2}));
  write_npy(dir.file("b.npy"), torch::arange(6, torch::kUInt8).view({1, 2, 3}));
  const std::string script =
      "import numpy as np, sys; a = np.load(sys.argv[1]); b = np.load(sys.argv[2]); "
      "ok = a.dtype == np.float64 and a.tolist() == [[0.1, -2.5], [1e-300, 7.0]] and "
      " b.dtype == np.uint8 and b.shape == (1, 2, 3) and "
      "b.ravel().tolist() == list(range(6)); sys.exit(0 if ok else 1)";
  const std::string cmd =
      "/usr/bin/python3 -c \"" + script + "\" " + dir.file("a.npy") + " " + dir.file("b.npy");
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

}  // namespace
}  // namespace fm
