// Writing samples in the data's own space: tables and toy data as .npy/.csv
// (standardisation undone) or a 2-D scatter .png; images as .npy (model-space
// floats) or a .png grid.
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "fm/data/dataset.h"
#include "fm/train/checkpoint.h"

namespace fm::app {

// Throws InputError unless `path` ends in .npy, .csv or .png.
void check_sample_extension(const std::string& path);

// "<dir>/<stem>.trajectory.npy" for an output path.
std::string trajectory_path(const std::string& out);

// The solver flags and the keys of `section` ("sample" or "eval") they set,
// {"--steps", "sample.steps"}, ..., followed by `more`: for error messages.
std::vector<std::pair<std::string, std::string>> solver_flag_keys(
    const std::string& section, std::vector<std::pair<std::string, std::string>> more);

// Sets solver keys of a "sample" or "eval" section from command-line flags
// (empty / 0 = not given). Choosing an adaptive solver drops a stored step
// count and step size.
void apply_solver_flags(nlohmann::json& section, const std::string& solver, int64_t steps,
                        double step_size, double rtol, double atol);

// Warns that --rtol/--atol (> 0: given) go unused when the resolved solver
// `method` takes fixed steps.
void warn_unused_tolerances(const std::string& method, double rtol, double atol);

// Throws InputError naming the flags when --grid-rows/--grid-cols (> 0:
// given) are set for an output that is not a .png, or cannot hold `num`
// samples. Checked before sampling.
void check_grid_flags(const std::string& out, int64_t rows, int64_t cols, int64_t num);

class SampleWriter {
 public:
  SampleWriter(const CheckpointMeta& meta, Dataset& dataset, int64_t grid_rows, int64_t grid_cols);

  // x: (N, ...) model-space samples.
  void write(const std::string& path, const torch::Tensor& x);
  // trajectory: (S + 1, N, ...) model-space states, written as .npy in data space.
  void write_trajectory(const std::string& path, const torch::Tensor& trajectory);

 private:
  torch::Tensor to_data_space(const torch::Tensor& x) const;
  torch::Tensor render_png(const torch::Tensor& x);

  const CheckpointMeta& meta_;
  Dataset& dataset_;
  int64_t grid_rows_, grid_cols_;
};

}  // namespace fm::app
