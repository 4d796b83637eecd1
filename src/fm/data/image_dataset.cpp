// MNIST and Fashion-MNIST from IDX files: 8-bit pixels, dequantised per batch.
#include <filesystem>
#include <nlohmann/json.hpp>

#include "fm/common/error.h"
#include "fm/data/dataset_impl.h"
#include "fm/data/idx.h"

namespace fm {
namespace {

const char kTrainImages[] = "train-images-idx3-ubyte";
const char kTestImages[] = "t10k-images-idx3-ubyte";

std::string default_root(const std::string& type) {
  return type == "fashion-mnist" ? "/usr/share/datasets/fashion-mnist" : "data/mnist";
}

// The raw file if present, else its .gz twin.
std::string find_idx_file(const std::string& root, const std::string& type, const char* name) {
  const std::filesystem::path raw = std::filesystem::path(root) / name;
  std::error_code ec;
  if (std::filesystem::exists(raw, ec)) return raw.string();
  const std::string gz = raw.string() + ".gz";
  if (std::filesystem::exists(gz, ec)) return gz;
  throw InputError("data: data.root ('" + root + "') holds neither '" + raw.string() + "' nor '" +
                   gz + "'" +
                   (type == "mnist" ? "; run scripts/fetch-mnist.sh (see docs/data.md)" : ""));
}

class ImageDataset : public Dataset {
 public:
  explicit ImageDataset(ImageOptions options) : options_(std::move(options)) {
    const std::string train_path = find_idx_file(options_.root, options_.type, kTrainImages);
    const std::string test_path = find_idx_file(options_.root, options_.type, kTestImages);
    torch::Tensor train = read_idx(train_path);
    test_ = read_idx(test_path);
    for (const auto& [path, t] : {std::pair{train_path, train}, std::pair{test_path, test_}}) {
      if (t.dim() != 4) {
        throw InputError("data: '" + path + "' holds labels (" + c10::str(t.sizes()) +
                         "), expected images");
      }
    }
    if (test_.sizes().slice(1) != train.sizes().slice(1)) {
      throw InputError("data: images in '" + test_path + "' are " + c10::str(test_.sizes()) +
                       ", those in '" + train_path + "' are " + c10::str(train.sizes()));
    }
    if (options_.val_count >= train.size(0)) {
      throw InputError("config: key 'data.val_count' = " + std::to_string(options_.val_count) +
                       " must be < the " + std::to_string(train.size(0)) + " images of '" +
                       train_path + "'");
    }
    const int64_t n_train = train.size(0) - options_.val_count;
    train_ = train.slice(0, 0, n_train);
    val_ = train.slice(0, n_train);
  }

  std::string name() const override { return options_.type; }
  DataKind kind() const override { return DataKind::kImage; }
  std::vector<int64_t> example_shape() const override { return train_.sizes().slice(1).vec(); }

  // Rows with replacement, then fresh noise u ~ U[0, 1) per pixel, in that order.
  torch::Tensor sample_train(int64_t batch, at::Generator& generator) override {
    check_batch(name(), batch);
    const torch::Tensor rows = torch::randint(0, train_.size(0), {batch}, generator, torch::kLong);
    const torch::Tensor pixels = train_.index_select(0, rows);
    const torch::Tensor noise = torch::rand(pixels.sizes(), generator, torch::kFloat32);
    return dequantize(pixels, noise, options_.transform).x.to(torch::kFloat32);
  }

  int64_t split_size(const std::string& split) const override { return rows(split).size(0); }

  torch::Tensor split_rows(const std::string& split, int64_t begin, int64_t end) override {
    const torch::Tensor& r = rows(split);
    check_row_range(name(), split, begin, end, r.size(0));
    return r.slice(0, begin, end);
  }

  const Standardizer& standardizer() const override { return identity_; }
  ImageTransformOptions image_transform() const override { return options_.transform; }

 private:
  const torch::Tensor& rows(const std::string& split) const {
    check_split_name(name(), split);
    return split == "train" ? train_ : split == "val" ? val_ : test_;
  }

  ImageOptions options_;
  torch::Tensor train_, val_, test_;  // (N_*, 1, H, W) uint8
  Standardizer identity_;
};

}  // namespace

ImageOptions read_image_options(const std::string& type, ConfigSection& section) {
  ImageOptions options;
  options.type = type;
  options.root = section.string("root", default_root(type));
  options.transform.kind = section.choice("transform", "affine", {"affine", "logit"});
  if (options.transform.kind == "logit") {
    options.transform.alpha =
        section.number("alpha", options.transform.alpha, 0.0, 0.5, /*min_exclusive=*/true);
    if (options.transform.alpha >= 0.5) {
      throw InputError("config: key 'data.alpha' = " +
                       nlohmann::json(options.transform.alpha).dump() + " must be < 0.5");
    }
  } else if (section.has("alpha")) {
    throw InputError("config: key 'data.alpha' applies only to data.transform \"logit\"");
  }
  options.val_count = section.integer("val_count", 0, 0);
  return options;
}

std::unique_ptr<Dataset> make_image_dataset(const ImageOptions& options) {
  return std::make_unique<ImageDataset>(options);
}

}  // namespace fm
