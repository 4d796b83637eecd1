#include "fm/data/dataset.h"

#include <gtest/gtest.h>

#include "fm/common/error.h"
#include "fm/common/random.h"
#include "fm/data/dataset_impl.h"
#include "fm/data/idx.h"
#include "fm/data/toy2d.h"
#include "fm/io/csv.h"
#include "fm/io/npy.h"
#include "io/temp_dir.h"

namespace fm {
namespace {

using fm::testing::error_message;
using fm::testing::TempDir;
using nlohmann::json;

// Rows sorted lexicographically, to compare tables as multisets of rows.
torch::Tensor sorted_rows(torch::Tensor x) {
  for (int64_t j = x.size(1) - 1; j >= 0; --j) {
    x = x.index_select(0, std::get<1>(x.select(1, j).sort(/*stable=*/true, 0, false)));
  }
  return x;
}

TEST(DatasetFactory, TypesNameToyTableMafAndImageData) {
  const auto& types = dataset_types();
  for (const char* t :
       {"moons", "gaussian-shift", "table", "power", "gas", "mnist", "fashion-mnist"}) {
    EXPECT_NE(std::find(types.begin(), types.end(), t), types.end()) << t;
  }
}

TEST(DatasetFactory, UnknownKeyIsRefusedNamingDataKeyAndNearestValid) {
  const std::string msg = error_message<InputError>([] {
    make_dataset({{"type", "moons"}, {"n_vall", 5}}, 0);
  });
  EXPECT_NE(msg.find("'data.n_vall'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'data.n_val'"), std::string::npos) << msg;
}

TEST(DatasetFactory, MissingOrUnknownTypeListsTheValidTypes) {
  std::string msg = error_message<InputError>([] { make_dataset(json::object(), 0); });
  EXPECT_NE(msg.find("data.type"), std::string::npos) << msg;
  msg = error_message<InputError>([] { make_dataset({{"type", "moon"}}, 0); });
  EXPECT_NE(msg.find("data.type"), std::string::npos) << msg;
  EXPECT_NE(msg.find("fashion-mnist"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'moons'"), std::string::npos) << msg;
}

TEST(DatasetFactory, ResolvedConfigFillsDefaultsAndIsStable) {
  const json toy = resolved_data_config({{"type", "moons"}});
  EXPECT_EQ(toy, json({{"type", "moons"}, {"n_val", 2000}, {"n_test", 2000}}));
  EXPECT_EQ(resolved_data_config({{"type", "gaussian-shift"}})["shift"], 2.0);
  const json table = resolved_data_config({{"type", "table"}, {"train", "a.npy"}});
  EXPECT_EQ(table, json({{"type", "table"},
                         {"train", "a.npy"},
                         {"val_fraction", 0.1},
                         {"test_fraction", 0.1},
                         {"split_seed", 0},
                         {"standardize", true}}));
  const json mnist = resolved_data_config({{"type", "mnist"}});
  EXPECT_EQ(
      mnist,
      json({{"type", "mnist"}, {"root", "data/mnist"}, {"transform", "affine"}, {"val_count", 0}}));
  const json fashion = resolved_data_config({{"type", "fashion-mnist"}, {"transform", "logit"}});
  EXPECT_EQ(fashion["root"], "/usr/share/datasets/fashion-mnist");
  EXPECT_EQ(fashion["alpha"], 1e-6);
  // Feeding a resolved config back gives the same config.
  for (const json& j : {toy, table, mnist, fashion}) EXPECT_EQ(resolved_data_config(j), j);
}

// Toy val/test sets: fixed draws from sub-streams of the run seed.
TEST(ToyDataset, SplitsAreFixedDrawsFromDerivedStreams) {
  auto data = make_dataset({{"type", "moons"}, {"n_val", 100}, {"n_test", 50}}, 7);
  EXPECT_EQ(data->kind(), DataKind::kToy);
  EXPECT_EQ(data->example_shape(), (std::vector<int64_t>{2}));
  EXPECT_EQ(data->split_size("val"), 100);
  EXPECT_EQ(data->split_size("test"), 50);
  at::Generator g = make_generator(derive_seed(7, kToyValStream));
  EXPECT_TRUE(torch::equal(data->split_rows("val", 0, 100), sample_toy2d("moons", 100, g)));
  EXPECT_TRUE(torch::equal(data->split_rows("val", 10, 20),
                           data->split_rows("val", 0, 100).slice(0, 10, 20)));
  EXPECT_FALSE(torch::equal(data->split_rows("val", 0, 50), data->split_rows("test", 0, 50)));

  auto same = make_dataset({{"type", "moons"}, {"n_val", 100}, {"n_test", 50}}, 7);
  auto other = make_dataset({{"type", "moons"}, {"n_val", 100}, {"n_test", 50}}, 8);
  EXPECT_TRUE(torch::equal(same->split_rows("test", 0, 50), data->split_rows("test", 0, 50)));
  EXPECT_FALSE(torch::equal(other->split_rows("test", 0, 50), data->split_rows("test", 0, 50)));
}

TEST(ToyDataset, SampleTrainDrawsOnlyFromTheGivenGenerator) {
  auto data = make_dataset({{"type", "gaussian-shift"}, {"shift", 3.0}}, 0);
  at::Generator a = make_generator(11), b = make_generator(11);
  const torch::Tensor x = data->sample_train(20000, a);
  EXPECT_TRUE(torch::equal(x, sample_toy2d("gaussian-shift", 20000, b, 3.0)));
  EXPECT_NEAR(x.mean(0)[0].item<float>(), 3.0, 0.035);  // 5 standard errors
}

TEST(ToyDataset, RefusesBadSplitsRangesAndBatches) {
  auto data = make_dataset({{"type", "rings"}, {"n_val", 10}}, 0);
  at::Generator g = make_generator(0);
  EXPECT_NE(error_message<InputError>([&] { data->split_rows("val", 5, 11); }).find("[5, 11)"),
            std::string::npos);
  EXPECT_NE(error_message<InputError>([&] { data->split_size("valid"); }).find("'valid'"),
            std::string::npos);
  EXPECT_THROW(data->split_rows("train", 0, 1), InputError);
  EXPECT_THROW(data->sample_train(0, g), InputError);
  EXPECT_THROW(make_dataset({{"type", "moons"}, {"shift", 1.0}}, 0), InputError);
}

// A table of 100 rows, 3 columns, with a header.
torch::Tensor write_table(const std::string& path, int64_t n = 100) {
  at::Generator g = make_generator(21);
  const torch::Tensor x =
      torch::randn({n, 3}, g, torch::kFloat64) * torch::tensor({1.0, 10.0, 0.1}, torch::kFloat64) +
      5;
  if (path.size() > 4 && path.substr(path.size() - 4) == ".csv") {
    write_csv(path, x, {"a", "b", "c"});
  } else {
    write_npy(path, x);
  }
  return x;
}

// Standardised with training statistics in float64, then float32: val rows
// equal (val - mean_train) / std_train to float32 rounding (1e-6 relative).
TEST(TableDataset, NpyFilesAreStandardisedWithTrainStatistics) {
  TempDir dir;
  const torch::Tensor train = write_table(dir.file("train.npy"));
  const torch::Tensor val = write_table(dir.file("val.npy"), 10) * 2;
  write_npy(dir.file("val.npy"), val);
  write_npy(dir.file("test.npy"), val.slice(0, 0, 4).to(torch::kFloat32));
  auto data = make_dataset({{"type", "table"},
                            {"train", dir.file("train.npy")},
                            {"val", dir.file("val.npy")},
                            {"test", dir.file("test.npy")}},
                           0);
  EXPECT_EQ(data->kind(), DataKind::kTable);
  EXPECT_EQ(data->example_shape(), (std::vector<int64_t>{3}));
  EXPECT_EQ(data->split_size("train"), 100);
  EXPECT_EQ(data->split_size("test"), 4);

  const torch::Tensor mean = train.mean(0), std = (train - mean).square().mean(0).sqrt();
  EXPECT_TRUE(torch::allclose(data->standardizer().mean(), mean, 1e-14, 0));
  EXPECT_TRUE(torch::allclose(data->standardizer().std(), std, 1e-14, 0));
  const torch::Tensor z = data->split_rows("val", 0, 10);
  EXPECT_EQ(z.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::allclose(z.to(torch::kFloat64), (val - mean) / std, 1e-6, 1e-6));
  const torch::Tensor zt = data->split_rows("train", 0, 100).to(torch::kFloat64);
  EXPECT_TRUE(torch::allclose(zt.mean(0), torch::zeros({3}, torch::kFloat64), 0, 1e-6));
}

// 100 rows, val_fraction 0.2, test_fraction 0.1: 10 test, 20 val, 70 train,
// together exactly the file's rows; the split depends on split_seed only.
TEST(TableDataset, CsvWithFractionsIsSplitBySeededShuffle) {
  TempDir dir;
  const torch::Tensor x = write_table(dir.file("t.csv"));
  json config = {{"type", "table"},     {"train", dir.file("t.csv")},
                 {"val_fraction", 0.2}, {"test_fraction", 0.1},
                 {"split_seed", 3},     {"standardize", false}};
  auto data = make_dataset(config, 0);
  EXPECT_EQ(data->split_size("train"), 70);
  EXPECT_EQ(data->split_size("val"), 20);
  EXPECT_EQ(data->split_size("test"), 10);
  const torch::Tensor all =
      torch::cat({data->split_rows("train", 0, 70), data->split_rows("val", 0, 20),
                  data->split_rows("test", 0, 10)});
  // Exact: without standardisation the rows are the file's values in float32.
  EXPECT_TRUE(torch::equal(sorted_rows(all), sorted_rows(x.to(torch::kFloat32))));

  EXPECT_TRUE(torch::equal(make_dataset(config, 99)->split_rows("test", 0, 10),
                           data->split_rows("test", 0, 10)));
  config["split_seed"] = 4;
  EXPECT_FALSE(torch::equal(make_dataset(config, 0)->split_rows("test", 0, 10),
                            data->split_rows("test", 0, 10)));
}

TEST(TableDataset, SampleTrainDrawsTrainRowsWithReplacement) {
  TempDir dir;
  write_table(dir.file("t.npy"), 20);
  auto data = make_dataset({{"type", "table"},
                            {"train", dir.file("t.npy")},
                            {"val_fraction", 0.1},
                            {"test_fraction", 0.1}},
                           0);
  at::Generator g = make_generator(1), h = make_generator(1);
  const torch::Tensor batch = data->sample_train(64, g);
  const torch::Tensor rows = torch::randint(0, 16, {64}, h, torch::kLong);
  EXPECT_TRUE(torch::equal(batch, data->split_rows("train", 0, 16).index_select(0, rows)));
}

TEST(TableDataset, ConstantColumnIsRefusedNamingKeyAndColumn) {
  TempDir dir;
  torch::Tensor x = write_table(dir.file("t.npy"));
  x.select(1, 2).fill_(4.25);
  write_npy(dir.file("t.npy"), x);
  const std::string msg = error_message<InputError>([&] {
    make_dataset({{"type", "table"}, {"train", dir.file("t.npy")}}, 0);
  });
  EXPECT_NE(msg.find("data.train"), std::string::npos) << msg;
  EXPECT_NE(msg.find("column 2"), std::string::npos) << msg;
}

TEST(TableDataset, NonFiniteValueIsRefusedNamingFileRowAndColumn) {
  TempDir dir;
  torch::Tensor x = write_table(dir.file("t.npy"));
  x[17][1] = std::numeric_limits<double>::quiet_NaN();
  write_npy(dir.file("t.npy"), x);
  const std::string msg = error_message<InputError>([&] {
    make_dataset({{"type", "table"}, {"train", dir.file("t.npy")}}, 0);
  });
  EXPECT_NE(msg.find("t.npy"), std::string::npos) << msg;
  EXPECT_NE(msg.find("row 17, column 1"), std::string::npos) << msg;
}

TEST(TableDataset, FileErrorsNameTheConfigKey) {
  TempDir dir;
  write_table(dir.file("t.npy"));
  write_npy(dir.file("v.npy"), torch::zeros({5, 4}, torch::kFloat64));
  std::string msg = error_message<InputError>([&] {
    make_dataset({{"type", "table"}, {"train", dir.file("t.npy")}, {"val", dir.file("v.npy")}}, 0);
  });
  EXPECT_NE(msg.find("data.val has 4 columns"), std::string::npos) << msg;
  msg = error_message<InputError>([&] {
    make_dataset({{"type", "table"}, {"train", dir.file("missing.csv")}}, 0);
  });
  EXPECT_NE(msg.find("data.train"), std::string::npos) << msg;
  EXPECT_NE(msg.find("missing.csv"), std::string::npos) << msg;
  msg = error_message<InputError>([&] {
    make_dataset({{"type", "table"}, {"train", "x.txt"}}, 0);
  });
  EXPECT_NE(msg.find(".npy or .csv"), std::string::npos) << msg;
}

TEST(TableDataset, InconsistentSplitKeysAreRefused) {
  std::string msg = error_message<InputError>([] {
    resolved_data_config(
        {{"type", "table"}, {"train", "a.npy"}, {"val", "b.npy"}, {"val_fraction", 0.2}});
  });
  EXPECT_NE(msg.find("data.val_fraction"), std::string::npos) << msg;
  msg = error_message<InputError>([] {
    resolved_data_config(
        {{"type", "table"}, {"train", "a.npy"}, {"val_fraction", 0.6}, {"test_fraction", 0.4}});
  });
  EXPECT_NE(msg.find("must be < 1"), std::string::npos) << msg;
  msg = error_message<InputError>([] { resolved_data_config({{"type", "table"}}); });
  EXPECT_NE(msg.find("data.train"), std::string::npos) << msg;
}

TEST(TableDataset, FractionTooSmallForTheTableIsRefused) {
  TempDir dir;
  write_table(dir.file("t.npy"), 5);
  const std::string msg = error_message<InputError>([&] {
    make_dataset({{"type", "table"}, {"train", dir.file("t.npy")}}, 0);
  });
  EXPECT_NE(msg.find("data.test_fraction"), std::string::npos) << msg;
}

}  // namespace
}  // namespace fm
