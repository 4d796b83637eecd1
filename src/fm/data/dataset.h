// Datasets: where training batches x_1 and evaluation splits come from.
//
// Three kinds: toy 2-D generators (an infinite, seeded stream), tables (.npy,
// CSV, POWER, GAS: finite splits, standardised with training statistics) and
// images (IDX files: 8-bit pixels, dequantised on the fly).
#pragma once

#include <torch/torch.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fm/data/standardizer.h"
#include "fm/data/image_transform.h"

namespace fm {

enum class DataKind { kToy, kTable, kImage };

class Dataset {
 public:
  virtual ~Dataset() = default;

  virtual std::string name() const = 0;
  virtual DataKind kind() const = 0;
  // Shape of one example without batch: {D} for vectors, {C, H, W} for images.
  virtual std::vector<int64_t> example_shape() const = 0;

  // A training batch x_1 in model space, float32 (B, ...). Rows are drawn with
  // replacement using `generator` (toy data: fresh points; images: fresh
  // dequantisation noise), so the data order is fully determined by its state.
  virtual torch::Tensor sample_train(int64_t batch, at::Generator& generator) = 0;

  // Number of rows in "train", "val" or "test" (toy data: the configured n;
  // toy "train" is an endless stream: 0 rows, and split_rows("train") throws).
  // Images: "val" is the last data.val_count training images (default 0).
  virtual int64_t split_size(const std::string& split) const = 0;

  // Rows [begin, end) of an evaluation split. Toy and table data: model space,
  // float32 (n, D). Images: raw pixels, uint8 (n, C, H, W), to be dequantised by
  // the caller (see bits_per_dim.h). Toy splits are fixed sets drawn once from
  // a generator derived from the data seed, so every call sees the same points.
  virtual torch::Tensor split_rows(const std::string& split, int64_t begin, int64_t end) = 0;

  // Tables: the standardisation fitted on the training split (identity otherwise).
  virtual const Standardizer& standardizer() const = 0;
  // Images: the dequantisation transform (ignored for other kinds).
  virtual ImageTransformOptions image_transform() const { return {}; }
};

// Names accepted by "data.type": toy generators, "table", "power", "gas",
// "mnist", "fashion-mnist".
const std::vector<std::string>& dataset_types();

// Builds the dataset of a config's "data" section; `seed` is the run seed.
// Throws InputError naming "data.<key>" or the file and row at fault.
std::unique_ptr<Dataset> make_dataset(const nlohmann::json& data, uint64_t seed);

// Every key the "data" section accepts for its type, with defaults filled in.
nlohmann::json resolved_data_config(const nlohmann::json& data);

}  // namespace fm
