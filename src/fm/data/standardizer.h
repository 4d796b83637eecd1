// Per-column standardisation z = (x - mean) / std with statistics fitted on the
// training split. Densities transform as log p(x) = log p(z) - sum_j log std_j,
// so NLL in original units = NLL in standardised units + sum_j log std_j.
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>

namespace fm {

class Standardizer {
 public:
  Standardizer() = default;  // identity
  Standardizer(torch::Tensor mean, torch::Tensor std);

  // Fits on x: (N, D), N >= 2, with the population std (ddof 0, numpy's
  // default). A column whose std is 0 (below 1e-12 of max(1, |mean|)) throws
  // InputError naming `what` and the 0-based column: its density is
  // degenerate, no finite NLL exists. transform/inverse compute in float64 and
  // return x's floating dtype.
  static Standardizer fit(const torch::Tensor& x, const std::string& what);

  bool is_identity() const { return !mean_.defined(); }
  torch::Tensor transform(const torch::Tensor& x) const;  // (N, D) -> (N, D)
  torch::Tensor inverse(const torch::Tensor& z) const;
  double sum_log_std() const;  // 0 for the identity

  const torch::Tensor& mean() const { return mean_; }  // (D,) float64
  const torch::Tensor& std() const { return std_; }    // (D,) float64

  nlohmann::json to_json() const;
  static Standardizer from_json(const nlohmann::json& j);

 private:
  torch::Tensor mean_;
  torch::Tensor std_;
};

}  // namespace fm
