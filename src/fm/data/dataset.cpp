#include "fm/data/dataset.h"

#include <algorithm>

#include "fm/common/error.h"
#include "fm/config/section.h"
#include "fm/data/dataset_impl.h"
#include "fm/data/toy2d.h"

namespace fm {
namespace {

bool is_toy(const std::string& type) {
  const auto& names = toy2d_names();
  return std::find(names.begin(), names.end(), type) != names.end();
}

std::string joined_types() {
  std::string list;
  for (const auto& t : dataset_types()) list += (list.empty() ? "" : ", ") + t;
  return list;
}

struct DataConfig {
  std::string type;
  ToyOptions toy;
  TableOptions table;
  ImageOptions image;
  MafOptions maf;
  nlohmann::json resolved;
};

// Reads and validates the whole "data" section (unknown keys included) without
// touching any file.
DataConfig read_data_config(const nlohmann::json& data) {
  ConfigSection section(data, "data");
  if (!section.has("type")) {
    throw InputError("config: key 'data.type' is required; one of: " + joined_types());
  }
  DataConfig config;
  config.type = section.choice("type", "", dataset_types());
  if (is_toy(config.type)) {
    config.toy = read_toy_options(config.type, section);
  } else if (config.type == "table") {
    config.table = read_table_options(section);
  } else if (config.type == "mnist" || config.type == "fashion-mnist") {
    config.image = read_image_options(config.type, section);
  } else {
    config.maf = read_maf_options(config.type, section);
  }
  section.finish();
  config.resolved = section.resolved();
  return config;
}

std::string joined_splits() { return "train, val, test"; }

}  // namespace

const std::vector<std::string>& dataset_types() {
  static const std::vector<std::string> types = [] {
    std::vector<std::string> t = toy2d_names();
    for (const char* other : {"table", "power", "gas", "mnist", "fashion-mnist"}) {
      t.push_back(other);
    }
    return t;
  }();
  return types;
}

std::unique_ptr<Dataset> make_dataset(const nlohmann::json& data, uint64_t seed) {
  const DataConfig config = read_data_config(data);
  if (is_toy(config.type)) return make_toy_dataset(config.toy, seed);
  if (config.type == "table") return make_table_dataset(config.table);
  if (config.type == "power" || config.type == "gas") return make_maf_dataset(config.maf);
  return make_image_dataset(config.image);
}

nlohmann::json resolved_data_config(const nlohmann::json& data) {
  return read_data_config(data).resolved;
}

void check_split_name(const std::string& dataset, const std::string& split) {
  if (split != "train" && split != "val" && split != "test") {
    throw InputError("data: " + dataset + " has no split '" + split +
                     "'; one of: " + joined_splits());
  }
}

void check_row_range(const std::string& dataset, const std::string& split, int64_t begin,
                     int64_t end, int64_t size) {
  if (begin < 0 || begin > end || end > size) {
    throw InputError("data: " + dataset + " rows [" + std::to_string(begin) + ", " +
                     std::to_string(end) + ") of split '" + split + "' must lie in [0, " +
                     std::to_string(size) + ")");
  }
}

void check_batch(const std::string& dataset, int64_t batch) {
  if (batch < 1) {
    throw InputError("data: " + dataset + " batch size " + std::to_string(batch) + " must be >= 1");
  }
}

}  // namespace fm
