#include "fm/io/png.h"

#include <gtest/gtest.h>

#include "fm/common/error.h"
#include "fm/common/random.h"
#include "io/temp_dir.h"

namespace fm {
namespace {

using fm::testing::error_message;
using fm::testing::TempDir;

// Exact: PNG is lossless.
TEST(Png, RoundTripIsExactForGrayAndRgb) {
  TempDir dir;
  at::Generator g = make_generator(11);
  for (const std::vector<int64_t>& shape : {std::vector<int64_t>{13, 17}, {9, 11, 3}}) {
    const torch::Tensor image = torch::randint(0, 256, shape, g, torch::kUInt8);
    write_png(dir.file("i.png"), image);
    const torch::Tensor back = read_png(dir.file("i.png"));
    EXPECT_EQ(back.sizes(), image.sizes());
    EXPECT_TRUE(torch::equal(back, image));
  }
}

TEST(Png, WriteRefusesNonByteImagesNamingThePath) {
  TempDir dir;
  const std::string msg = error_message<InputError>([&] {
    write_png(dir.file("f.png"), torch::zeros({4, 4}));
  });
  EXPECT_NE(msg.find("f.png"), std::string::npos) << msg;
  EXPECT_NE(msg.find("uint8"), std::string::npos) << msg;
}

// Exact values: clamp, then round(v * 255) half away from zero; NaN -> 0.
TEST(Png, UnitToBytesClampsAndRoundsHalfAwayFromZero) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const torch::Tensor unit = torch::tensor(
      {1.3, -0.2, 0.5, 0.0, 1.0, 0.25, 0.1, 2.0 / 255, nan, inf, -inf}, torch::kFloat64);
  const torch::Tensor expected =
      torch::tensor({255, 0, 128, 0, 255, 64, 26, 2, 0, 255, 0}, torch::kInt64).to(torch::kUInt8);
  const torch::Tensor bytes = unit_to_bytes(unit);
  EXPECT_EQ(bytes.scalar_type(), torch::kUInt8);
  EXPECT_TRUE(torch::equal(bytes, expected)) << bytes;
  EXPECT_EQ(unit_to_bytes(torch::tensor({0.5f})).item<uint8_t>(), 128);
}

// Geometry: H' = rows (H + pad) + pad, W' = cols (W + pad) + pad; every image
// sits at its cell's corner; padding and empty cells are white (255).
TEST(Png, TileImagesPlacesEachImageInANearSquareGrid) {
  const int64_t n = 5, h = 3, w = 4, pad = 2;
  const torch::Tensor images =
      torch::arange(n * h * w, torch::kInt64).remainder(200).to(torch::kUInt8).view({n, 1, h, w});
  const torch::Tensor grid = tile_images(images, 0, 0, pad);
  ASSERT_EQ(grid.sizes(), (std::vector<int64_t>{2 * (h + pad) + pad, 3 * (w + pad) + pad}));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t top = pad + (i / 3) * (h + pad), left = pad + (i % 3) * (w + pad);
    EXPECT_TRUE(torch::equal(grid.slice(0, top, top + h).slice(1, left, left + w), images[i][0]))
        << i;
  }
  const torch::Tensor white = torch::full({h, w}, 255, torch::kUInt8);
  EXPECT_TRUE(torch::equal(grid.slice(0, 7, 10).slice(1, 14, 18), white));  // empty 6th cell
  EXPECT_TRUE((grid.slice(0, 0, pad) == 255).all().item<bool>());
  EXPECT_TRUE((grid.slice(1, 0, pad) == 255).all().item<bool>());
}

TEST(Png, TileImagesKeepsRgbChannelsAndHonoursRows) {
  torch::Tensor images = torch::zeros({4, 3, 2, 2}, torch::kUInt8);
  images.select(1, 0).fill_(10);
  images.select(1, 1).fill_(20);
  images.select(1, 2).fill_(30);
  const torch::Tensor grid = tile_images(images, 1, 0, 1);
  ASSERT_EQ(grid.sizes(), (std::vector<int64_t>{1 * 3 + 1, 4 * 3 + 1, 3}));
  EXPECT_TRUE(
      torch::equal(grid[1][1], torch::tensor({10, 20, 30}, torch::kInt64).to(torch::kUInt8)));
  EXPECT_TRUE(torch::equal(grid[0][0], torch::full({3}, 255, torch::kUInt8)));
}

TEST(Png, TileImagesRefusesAGridTooSmall) {
  const std::string msg = error_message<InputError>([] {
    tile_images(torch::zeros({5, 1, 2, 2}, torch::kUInt8), 2, 2);
  });
  EXPECT_NE(msg.find("2 x 2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("5 images"), std::string::npos) << msg;
}

// One sample at (1, 1) and one reference point at (-1, -1): each paints a 3 x 3
// dot blended at opacity 0.4 over white, in exact colours, at opposite corners
// of the common window; every other pixel stays white.
TEST(Png, ScatterPlotDrawsSamplesBlueAndReferenceGreyOnACommonWindow) {
  const torch::Tensor image = scatter_plot(torch::tensor({1.0, 1.0}).view({1, 2}),
                                           torch::tensor({-1.0, -1.0}).view({1, 2}), 64);
  ASSERT_EQ(image.sizes(), (std::vector<int64_t>{64, 64, 3}));
  const auto blue = torch::tensor({165, 201, 225}, torch::kInt64).to(torch::kUInt8);
  const auto grey = torch::tensor({213, 213, 213}, torch::kInt64).to(torch::kUInt8);
  const torch::Tensor is_blue = (image == blue).all(2), is_grey = (image == grey).all(2);
  const torch::Tensor is_white = (image == 255).all(2);
  EXPECT_EQ(is_blue.sum().item<int64_t>(), 9);
  EXPECT_EQ(is_grey.sum().item<int64_t>(), 9);
  EXPECT_EQ(is_white.sum().item<int64_t>(), 64 * 64 - 18);
  // y grows upwards: the sample is top right, the reference bottom left.
  EXPECT_EQ(is_blue.slice(0, 0, 8).slice(1, 56, 64).sum().item<int64_t>(), 9);
  EXPECT_EQ(is_grey.slice(0, 56, 64).slice(1, 0, 8).sum().item<int64_t>(), 9);
}

TEST(Png, ScatterPlotSkipsNonFinitePointsAndRefusesWrongShapes) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const torch::Tensor image =
      scatter_plot(torch::tensor({0.0, 0.0, nan, 1.0}).view({2, 2}), {}, 32);
  EXPECT_EQ((image != 255).any(2).sum().item<int64_t>(), 9);  // only the finite point's dot
  const std::string msg = error_message<InputError>([] {
    scatter_plot(torch::zeros({4, 3}), {}, 32);
  });
  EXPECT_NE(msg.find("(N, 2)"), std::string::npos) << msg;
}

}  // namespace
}  // namespace fm
