// Golden files written by scripts/make-unet-golden.py from cfm_ref.py: the
// reference networks' parameter names and shapes, a recipe for their values,
// an input batch and the reference outputs.
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <string>

namespace fm::test {

struct Golden {
  nlohmann::json json;
  torch::Tensor x;               // x_shape, float32
  torch::Tensor t;               // (B,), float32 (absent for blocks without t)
  torch::Tensor output_float32;  // x_shape
  torch::Tensor output_float64;  // x_shape, float64
};

// Reads tests/nn/golden/<name>_reference.json.
Golden load_golden(const std::string& name);

// The recipe's values (see the script's docstring): float32 (numel,).
torch::Tensor recipe_values(int64_t stream, int64_t numel, double offset, double scale);

// Sets every parameter of `module` whose name the golden lists from the recipe.
// Returns "" on success, else what did not match (a missing or extra name, a shape).
std::string load_recipe_parameters(torch::nn::Module& module, const nlohmann::json& records);

// Largest absolute difference between two tensors of the same shape.
double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b);

}  // namespace fm::test
