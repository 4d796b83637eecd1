// Private to fm/data: the options each dataset type reads from "data", and the
// constructors make_dataset dispatches to. Reading options never touches files,
// so resolved_data_config can report a config without loading its data.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "fm/config/section.h"
#include "fm/data/dataset.h"

namespace fm {

// Sub-streams of the run seed (fm::derive_seed) used by datasets. They spell
// ASCII tags so that they cannot collide with the small stream numbers other
// components use for training, sampling and evaluation.
const uint64_t kToyValStream = 0x64617476616cULL;      // "datval"
const uint64_t kToyTestStream = 0x646174747374ULL;     // "dattst"
const uint64_t kTableSplitStream = 0x64617473706cULL;  // "datspl"

struct ToyOptions {
  std::string name;      // one of toy2d_names()
  int64_t n_val = 2000;  // rows of the fixed validation set
  int64_t n_test = 2000;
  double shift = 2.0;  // gaussian-shift only
};

struct TableOptions {
  std::string train;  // .npy or .csv
  std::string val;    // empty: carved from train with val_fraction
  std::string test;   // empty: carved from train with test_fraction
  double val_fraction = 0.1;
  double test_fraction = 0.1;
  uint64_t split_seed = 0;  // the carving shuffle; independent of the run seed
  bool standardize = true;
};

struct ImageOptions {
  std::string type;  // "mnist" or "fashion-mnist"
  std::string root;  // folder with the IDX files
  ImageTransformOptions transform;
  int64_t val_count = 0;  // the last val_count training images form "val"
};

struct MafOptions {
  std::string type;         // "power" or "gas"
  std::string root = "data";  // folder holding power/ and gas/ (scripts/fetch-tabular-data.sh)
};

ToyOptions read_toy_options(const std::string& type, ConfigSection& section);
TableOptions read_table_options(ConfigSection& section);
ImageOptions read_image_options(const std::string& type, ConfigSection& section);
MafOptions read_maf_options(const std::string& type, ConfigSection& section);

std::unique_ptr<Dataset> make_toy_dataset(const ToyOptions& options, uint64_t seed);
std::unique_ptr<Dataset> make_table_dataset(const TableOptions& options);
std::unique_ptr<Dataset> make_image_dataset(const ImageOptions& options);
std::unique_ptr<Dataset> make_maf_dataset(const MafOptions& options);

// Checks a split name and a row range against the split's size; InputError
// names the dataset, the split and the range otherwise.
void check_split_name(const std::string& dataset, const std::string& split);
void check_row_range(const std::string& dataset, const std::string& split, int64_t begin,
                     int64_t end, int64_t size);
void check_batch(const std::string& dataset, int64_t batch);

}  // namespace fm
