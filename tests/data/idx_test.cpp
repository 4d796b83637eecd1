#include "fm/data/idx.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "data/gzip.h"
#include "fm/common/error.h"
#include "fm/common/random.h"
#include "io/temp_dir.h"

namespace fm {
namespace {

using fm::testing::error_message;
using fm::testing::gzip_bytes;
using fm::testing::read_bytes;
using fm::testing::TempDir;
using fm::testing::write_bytes;

const char kFashionRoot[] = "/usr/share/datasets/fashion-mnist/";

torch::Tensor some_images(int64_t n, int64_t h, int64_t w) {
  at::Generator g = make_generator(5);
  return torch::randint(0, 256, {n, h, w}, g, torch::kUInt8);
}

// Exact: IDX stores bytes verbatim.
TEST(Idx, RoundTripGivesImagesWithAChannelAxisAndLabels) {
  TempDir dir;
  const torch::Tensor images = some_images(6, 4, 3);
  write_idx(dir.file("img"), images);
  const torch::Tensor back = read_idx(dir.file("img"));
  ASSERT_EQ(back.sizes(), (std::vector<int64_t>{6, 1, 4, 3}));
  EXPECT_TRUE(torch::equal(back.squeeze(1), images));
  // 16-byte header: magic 0x00000803, then N, H, W big-endian.
  EXPECT_EQ(read_bytes(dir.file("img")).substr(0, 8), std::string("\0\0\x08\x03\0\0\0\x06", 8));

  const torch::Tensor labels = torch::arange(10, torch::kInt64).to(torch::kUInt8);
  write_idx(dir.file("lab"), labels);
  EXPECT_TRUE(torch::equal(read_idx(dir.file("lab")), labels));
  EXPECT_EQ(read_bytes(dir.file("lab")).size(), 8u + 10u);
}

TEST(Idx, ReadDetectsGzipFromContentNotName) {
  TempDir dir;
  const torch::Tensor images = some_images(3, 5, 5);
  write_idx(dir.file("raw"), images);
  write_bytes(dir.file("no-gz-suffix"), gzip_bytes(read_bytes(dir.file("raw"))));
  EXPECT_TRUE(torch::equal(read_idx(dir.file("no-gz-suffix")).squeeze(1), images));
}

TEST(Idx, ReadRefusesWrongMagicNamingFileAndValue) {
  TempDir dir;
  write_idx(dir.file("f"), some_images(2, 2, 2));
  std::string bytes = read_bytes(dir.file("f"));
  bytes[2] = 0x0d;  // float data instead of unsigned bytes
  write_bytes(dir.file("f"), bytes);
  const std::string msg = error_message<InputError>([&] { read_idx(dir.file("f")); });
  EXPECT_NE(msg.find(dir.file("f")), std::string::npos) << msg;
  EXPECT_NE(msg.find("0x00000d03"), std::string::npos) << msg;
}

TEST(Idx, ReadRefusesTruncatedRawFileNamingBytes) {
  TempDir dir;
  write_idx(dir.file("f"), some_images(2, 3, 3));
  write_bytes(dir.file("f"), read_bytes(dir.file("f")).substr(0, 16 + 17));
  const std::string msg = error_message<InputError>([&] { read_idx(dir.file("f")); });
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  EXPECT_NE(msg.find("need 18 bytes of data, found 17"), std::string::npos) << msg;
}

TEST(Idx, ReadRefusesTruncatedGzipStream) {
  TempDir dir;
  write_idx(dir.file("f"), some_images(20, 8, 8));
  const std::string gz = gzip_bytes(read_bytes(dir.file("f")));
  write_bytes(dir.file("f.gz"), gz.substr(0, gz.size() / 2));
  const std::string msg = error_message<InputError>([&] { read_idx(dir.file("f.gz")); });
  EXPECT_NE(msg.find("f.gz"), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated or corrupt gzip"), std::string::npos) << msg;
}

TEST(Idx, ReadRefusesDataLongerThanItsDimensions) {
  TempDir dir;
  write_idx(dir.file("f"), some_images(2, 2, 2));
  write_bytes(dir.file("f"), read_bytes(dir.file("f")) + "xyz");
  const std::string msg = error_message<InputError>([&] { read_idx(dir.file("f")); });
  EXPECT_NE(msg.find("too long"), std::string::npos) << msg;
  EXPECT_NE(msg.find("need 8 bytes of data, found 11"), std::string::npos) << msg;
}

// Golden values from Debian's dataset-fashion-mnist, computed with
//   /usr/bin/python3: x = np.frombuffer(gzip.open(f).read()[16:], np.uint8)
//   .reshape(-1, 28, 28); int(x[0].sum()) -> 76247, x[0, 10, 10:15] -> 0 0 0 193 228;
//   labels: first ten 9 0 0 3 0 2 7 2 5 5, 6000 of each class. Exact (integers).
TEST(FashionMnist, TrainFilesGiveKnownShapePixelsAndLabels) {
  const std::string images_path = std::string(kFashionRoot) + "train-images-idx3-ubyte.gz";
  if (!std::filesystem::exists(images_path)) GTEST_SKIP() << images_path << " not installed";
  const torch::Tensor images = read_idx(images_path);
  ASSERT_EQ(images.sizes(), (std::vector<int64_t>{60000, 1, 28, 28}));
  EXPECT_EQ(images[0].sum().item<int64_t>(), 76247);
  EXPECT_TRUE(torch::equal(images[0][0][10].slice(0, 10, 15),
                           torch::tensor({0, 0, 0, 193, 228}, torch::kInt64).to(torch::kUInt8)));

  const torch::Tensor labels = read_idx(std::string(kFashionRoot) + "train-labels-idx1-ubyte.gz");
  ASSERT_EQ(labels.sizes(), (std::vector<int64_t>{60000}));
  EXPECT_TRUE(
      torch::equal(labels.slice(0, 0, 10),
                   torch::tensor({9, 0, 0, 3, 0, 2, 7, 2, 5, 5}, torch::kInt64).to(torch::kUInt8)));
  EXPECT_LE(labels.max().item<int64_t>(), 9);
  EXPECT_TRUE(torch::equal(torch::bincount(labels.to(torch::kInt64)),
                           torch::full({10}, 6000, torch::kInt64)));
}

}  // namespace
}  // namespace fm
