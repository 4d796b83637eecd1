#include "fm/train/model_builder.h"

#include "fm/common/error.h"
#include "fm/common/random.h"
#include "fm/train/trainer.h"

namespace fm {

torch::Device run_device(const RunOptions& options) {
  if (options.device == "cuda") {
    if (!torch::cuda::is_available()) {
      throw InputError("config: key 'device' = \"cuda\" but no CUDA device is available "
                       "(this LibTorch build or machine has none); use \"cpu\"");
    }
    return torch::Device(torch::kCUDA);
  }
  return torch::Device(torch::kCPU);
}

VelocityModelPtr build_velocity_model(const RunOptions& options,
                                      const std::vector<int64_t>& example_shape) {
  torch::manual_seed(derive_seed(options.seed, kInitStream));
  auto model = make_velocity_model(options.model, example_shape);
  model->to(run_device(options));
  return model;
}

}  // namespace fm
