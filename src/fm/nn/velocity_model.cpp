#include "fm/nn/velocity_model.h"

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
  if (type == "mlp") {
    MLPOptions options = read_mlp_options(section);
    section.finish();
    return MLP(mlp_data_dim(data_shape), std::move(options)).ptr();
  }
  UNetOptions options = read_unet_options(section);
  section.finish();
  return UNet(data_shape, std::move(options)).ptr();
}

nlohmann::json resolved_model_config(const nlohmann::json& model) {
  ConfigSection section(model, "model");
  read_type_options(section, section.choice("type", "mlp", kModelTypes));
  section.finish();
  return section.resolved();
}

}  // namespace fm
