// Toy 2-D datasets: an endless training stream plus fixed val/test sets.
#include "fm/common/error.h"
#include "fm/common/random.h"
#include "fm/data/dataset_impl.h"
#include "fm/data/toy2d.h"

namespace fm {
namespace {

const int64_t kMaxFixedRows = 100000000;

class ToyDataset : public Dataset {
 public:
  ToyDataset(ToyOptions options, uint64_t seed) : options_(std::move(options)) {
    // Drawn once, each from its own sub-stream: every call, and every run with
    // the same seed, evaluates on the same points.
    val_ = draw(options_.n_val, derive_seed(seed, kToyValStream));
    test_ = draw(options_.n_test, derive_seed(seed, kToyTestStream));
  }

  std::string name() const override { return options_.name; }
  DataKind kind() const override { return DataKind::kToy; }
  std::vector<int64_t> example_shape() const override { return {2}; }

  torch::Tensor sample_train(int64_t batch, at::Generator& generator) override {
    check_batch(name(), batch);
    return sample_toy2d(options_.name, batch, generator, options_.shift);
  }

  int64_t split_size(const std::string& split) const override {
    check_split_name(name(), split);
    if (split == "train") return 0;  // a stream: no fixed rows
    return split == "val" ? options_.n_val : options_.n_test;
  }

  torch::Tensor split_rows(const std::string& split, int64_t begin, int64_t end) override {
    check_split_name(name(), split);
    if (split == "train") {
      throw InputError("data: toy data '" + name() +
                       "' has no fixed train rows; draw them with sample_train");
    }
    const torch::Tensor& rows = split == "val" ? val_ : test_;
    check_row_range(name(), split, begin, end, rows.size(0));
    return rows.slice(0, begin, end);
  }

  const Standardizer& standardizer() const override { return identity_; }

 private:
  torch::Tensor draw(int64_t n, uint64_t seed) const {
    at::Generator generator = make_generator(seed);
    return sample_toy2d(options_.name, n, generator, options_.shift);
  }

  ToyOptions options_;
  torch::Tensor val_, test_;
  Standardizer identity_;
};

}  // namespace

ToyOptions read_toy_options(const std::string& type, ConfigSection& section) {
  ToyOptions options;
  options.name = type;
  options.n_val = section.integer("n_val", options.n_val, 1, kMaxFixedRows);
  options.n_test = section.integer("n_test", options.n_test, 1, kMaxFixedRows);
  if (type == "gaussian-shift") options.shift = section.number("shift", options.shift);
  return options;
}

std::unique_ptr<Dataset> make_toy_dataset(const ToyOptions& options, uint64_t seed) {
  return std::make_unique<ToyDataset>(options, seed);
}

}  // namespace fm
