// POWER and GAS as datasets: the splits come already normalised by the MAF
// preprocessing (maf_tabular.h), which is the space published NLLs are
// reported in; the model trains there directly.
#include "fm/common/error.h"
#include "fm/data/dataset_impl.h"
#include "fm/data/maf_tabular.h"

namespace fm {
namespace {

class MafDataset : public Dataset {
 public:
  explicit MafDataset(const MafOptions& options) : name_(options.type) {
    TableSplits splits = name_ == "power" ? load_power(options.root) : load_gas(options.root);
    train_ = splits.train.to(torch::kFloat32);
    val_ = splits.val.to(torch::kFloat32);
    test_ = splits.test.to(torch::kFloat32);
    normalisation_ = splits.normalisation;
  }

  std::string name() const override { return name_; }
  DataKind kind() const override { return DataKind::kTable; }
  std::vector<int64_t> example_shape() const override { return {train_.size(1)}; }

  torch::Tensor sample_train(int64_t batch, at::Generator& generator) override {
    check_batch(name_, batch);
    auto rows = torch::randint(0, train_.size(0), {batch}, generator, torch::kLong);
    return train_.index_select(0, rows);
  }

  int64_t split_size(const std::string& split) const override { return rows(split).size(0); }

  torch::Tensor split_rows(const std::string& split, int64_t begin, int64_t end) override {
    const torch::Tensor& r = rows(split);
    check_row_range(name_, split, begin, end, r.size(0));
    return r.slice(0, begin, end);
  }

  // The reference's normalisation: it maps the raw columns to model space, so
  // NLL in raw units = NLL + sum log std, and samples map back through it.
  const Standardizer& standardizer() const override { return normalisation_; }

 private:
  const torch::Tensor& rows(const std::string& split) const {
    check_split_name(name_, split);
    return split == "train" ? train_ : split == "val" ? val_ : test_;
  }

  std::string name_;
  Standardizer normalisation_;
  torch::Tensor train_, val_, test_;  // (N_*, D) float32, normalised
};

}  // namespace

MafOptions read_maf_options(const std::string& type, ConfigSection& section) {
  MafOptions options;
  options.type = type;
  options.root = section.string("root", options.root);
  return options;
}

std::unique_ptr<Dataset> make_maf_dataset(const MafOptions& options) {
  return std::make_unique<MafDataset>(options);
}

}  // namespace fm
