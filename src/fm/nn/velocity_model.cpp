#include "fm/nn/velocity_model.h"

#include <unistd.h>

#include <cstdio>
#include <new>

#include "fm/common/error.h"
#include "fm/config/section.h"
#include "fm/nn/describe.h"
#include "fm/nn/mlp.h"
#include "fm/nn/unet.h"

namespace fm {
namespace {

const std::vector<std::string> kModelTypes = {"mlp", "unet"};

// Reads every key of `section` for its type, so that finish() can reject the rest.
void read_type_options(ConfigSection& section, const std::string& type) {
  if (type == "mlp") {
    read_mlp_options(section);
  } else {
    read_unet_options(section);
  }
}

// The MLP takes flat examples only: data_shape must be {D}.
int64_t mlp_data_dim(const std::vector<int64_t>& data_shape) {
  if (data_shape.size() != 1 || data_shape[0] < 1) {
    throw InputError("model: type 'mlp' needs flat data of shape (D), got data shape " +
                     shape_string(data_shape) + " (use type 'unet' for images)");
  }
  return data_shape[0];
}

// Training holds four float32 copies of every parameter (weights, gradients,
// Adam's two moments) and a fifth with EMA.
constexpr double kTrainingBytesPerParameter = 5 * 4;

double physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<double>(pages) * static_cast<double>(page) : 0.0;
}

std::string gib(double bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f GiB", bytes / (1024.0 * 1024.0 * 1024.0));
  return text;
}

// An MLP too large for this machine ends with a message naming the keys at
// fault, before anything is allocated (LibTorch would fail with a bare
// allocation error, or the kernel would stop the process part-way).
void check_mlp_fits(const MLPOptions& o, int64_t data_dim) {
  const double in =
      static_cast<double>(data_dim) +
      (o.time_embedding == "concat" ? 1.0 : static_cast<double>(o.time_embedding_dim));
  const double h = static_cast<double>(o.hidden), d = static_cast<double>(data_dim);
  const double params =
      o.depth == 0 ? in * d + d
                   : in * h + h + static_cast<double>(o.depth - 1) * (h * h + h) + h * d + d;
  const double bytes = params * kTrainingBytesPerParameter, memory = physical_memory_bytes();
  if (memory > 0 && bytes > memory) {
    char count[32];
    std::snprintf(count, sizeof count, "%.3g", params);
    throw InputError("model: mlp with model.hidden = " + std::to_string(o.hidden) +
                     " and model.depth = " + std::to_string(o.depth) + " has " + count +
                     " parameters, " + gib(bytes) + " to train, more than this machine's " +
                     gib(memory) + " of memory; lower model.hidden or model.depth");
  }
}

}  // namespace

int64_t VelocityModel::parameter_count() const {
  int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

bool VelocityModel::velocity_and_divergence(const torch::Tensor&, const torch::Tensor&,
                                            torch::Tensor*, torch::Tensor*) {
  return false;
}

VelocityModelPtr make_velocity_model(const nlohmann::json& model,
                                     const std::vector<int64_t>& data_shape) {
  ConfigSection section(model, "model");
  const std::string type = section.choice("type", "mlp", kModelTypes);
  try {
    if (type == "mlp") {
      MLPOptions options = read_mlp_options(section);
      section.finish();
      const int64_t data_dim = mlp_data_dim(data_shape);
      check_mlp_fits(options, data_dim);
      return MLP(data_dim, std::move(options)).ptr();
    }
    UNetOptions options = read_unet_options(section);
    section.finish();
    return UNet(data_shape, std::move(options)).ptr();
  } catch (const std::bad_alloc&) {
    throw InputError("model: the " + type +
                     " network of this config does not fit in memory; "
                     "make the network smaller (see docs/models.md for its size keys)");
  } catch (const c10::Error& e) {
    // LibTorch reports a failed allocation as c10::Error ("can't allocate memory").
    if (std::string(e.what_without_backtrace()).find("allocate") == std::string::npos) throw;
    throw InputError("model: the " + type + " network of this config does not fit in memory (" +
                     std::string(e.what_without_backtrace()) +
                     "); make the network smaller (see docs/models.md for its size keys)");
  }
}

nlohmann::json resolved_model_config(const nlohmann::json& model) {
  ConfigSection section(model, "model");
  read_type_options(section, section.choice("type", "mlp", kModelTypes));
  section.finish();
  return section.resolved();
}

}  // namespace fm
