#include "common/sample_writer.h"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "common/program.h"
#include "fm/common/error.h"
#include "fm/common/random.h"
#include "fm/data/image_transform.h"
#include "fm/io/csv.h"
#include "fm/io/npy.h"
#include "fm/io/png.h"
#include "fm/solvers/solver.h"

namespace fm::app {

void check_sample_extension(const std::string& path) {
  auto ext = extension_of(path);
  if (ext != "npy" && ext != "csv" && ext != "png") {
    throw InputError("--out '" + path + "': the extension must be .npy, .csv or .png");
  }
}

std::string trajectory_path(const std::string& out) {
  std::filesystem::path p(out);
  return (p.parent_path() / (p.stem().string() + ".trajectory.npy")).string();
}

std::vector<std::pair<std::string, std::string>> solver_flag_keys(
    const std::string& section, std::vector<std::pair<std::string, std::string>> more) {
  std::vector<std::pair<std::string, std::string>> keys = {{"--solver", section + ".solver"},
                                                           {"--steps", section + ".steps"},
                                                           {"--step-size", section + ".step_size"},
                                                           {"--rtol", section + ".rtol"},
                                                           {"--atol", section + ".atol"}};
  keys.insert(keys.end(), more.begin(), more.end());
  return keys;
}

void apply_solver_flags(nlohmann::json& section, const std::string& solver, int64_t steps,
                        double step_size, double rtol, double atol) {
  if (!section.is_object()) section = nlohmann::json::object();
  if (!solver.empty()) {
    section["solver"] = solver;
    // A stored step count belongs to the stored solver; an adaptive one takes none.
    if (is_adaptive(solver)) section.erase("steps"), section.erase("step_size");
  }
  // Both flags given: both go in, and the solver settings check that they
  // agree (as for the two config keys); one flag replaces the other key.
  if (steps > 0 && step_size > 0) {
    section["steps"] = steps, section["step_size"] = step_size;
  } else if (steps > 0) {
    section["steps"] = steps, section.erase("step_size");
  } else if (step_size > 0) {
    section["step_size"] = step_size, section.erase("steps");
  }
  if (rtol > 0) section["rtol"] = rtol;
  if (atol > 0) section["atol"] = atol;
}

void warn_unused_tolerances(const std::string& method, double rtol, double atol) {
  if ((rtol > 0 || atol > 0) && !is_adaptive(method)) {
    spdlog::warn(
        "--rtol/--atol set the tolerances of adaptive solvers; '{}' takes fixed steps "
        "and does not use them",
        method);
  }
}

void check_grid_flags(const std::string& out, int64_t rows, int64_t cols, int64_t num) {
  if ((rows > 0 || cols > 0) && extension_of(out) != "png") {
    throw InputError("--grid-rows/--grid-cols lay out a .png grid; --out '" + out +
                     "' is not a .png");
  }
  if (rows > 0 && cols > 0 && rows * cols < num) {
    throw InputError("--grid-rows " + std::to_string(rows) + " x --grid-cols " +
                     std::to_string(cols) + " = " + std::to_string(rows * cols) +
                     " cells cannot hold " + std::to_string(num) + " samples");
  }
}

SampleWriter::SampleWriter(const CheckpointMeta& meta, Dataset& dataset, int64_t grid_rows,
                           int64_t grid_cols)
    : meta_(meta), dataset_(dataset), grid_rows_(grid_rows), grid_cols_(grid_cols) {}

torch::Tensor SampleWriter::to_data_space(const torch::Tensor& x) const {
  if (dataset_.kind() == DataKind::kImage) return x.to(torch::kFloat32);
  // Tables: undo the standardisation fitted at training time (stored in the checkpoint).
  return meta_.standardizer.inverse(x.to(torch::kFloat64)).to(torch::kFloat32);
}

torch::Tensor SampleWriter::render_png(const torch::Tensor& x) {
  if (dataset_.kind() == DataKind::kImage) {
    auto unit = model_to_unit_interval(x, dataset_.image_transform());
    return tile_images(unit_to_bytes(unit), grid_rows_, grid_cols_);
  }
  if (x.dim() != 2 || x.size(1) != 2) {
    throw InputError("--out .png needs 2-D or image data; this model's examples have shape " +
                     std::to_string(x.size(1)) + " (write .npy or .csv instead)");
  }
  // The training data beside the samples, in the same (original) units.
  auto generator = make_generator(0);
  auto reference = to_data_space(dataset_.sample_train(x.size(0), generator));
  return scatter_plot(to_data_space(x), reference);
}

void SampleWriter::write(const std::string& path, const torch::Tensor& x) {
  auto ext = extension_of(path);
  if (ext == "png") {
    write_png(path, render_png(x));
  } else if (ext == "csv") {
    write_csv(path, to_data_space(x).reshape({x.size(0), -1}));
  } else {
    write_npy(path, to_data_space(x).contiguous());
  }
}

void SampleWriter::write_trajectory(const std::string& path, const torch::Tensor& trajectory) {
  std::vector<torch::Tensor> steps;
  for (int64_t i = 0; i < trajectory.size(0); ++i) steps.push_back(to_data_space(trajectory[i]));
  write_npy(path, torch::stack(steps).contiguous());
}

}  // namespace fm::app
