#include "nn/golden.h"

#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

namespace fm::test {
namespace {

uint64_t splitmix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

torch::Tensor from_json(const nlohmann::json& values, const nlohmann::json& shape,
                        torch::Dtype dtype) {
  std::vector<double> data = values.get<std::vector<double>>();
  return torch::tensor(data, torch::kDouble).reshape(shape.get<std::vector<int64_t>>()).to(dtype);
}

}  // namespace

Golden load_golden(const std::string& name) {
  const std::string path =
      std::string(FM_SOURCE_DIR) + "/tests/nn/golden/" + name + "_reference.json";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open golden file " + path);
  Golden g;
  g.json = nlohmann::json::parse(in);
  const auto& shape = g.json.at("x_shape");
  g.x = from_json(g.json.at("x"), shape, torch::kFloat);
  if (g.json.contains("t")) {
    const nlohmann::json t_shape = {g.x.size(0)};
    g.t = from_json(g.json.at("t"), t_shape, torch::kFloat);
  }
  g.output_float32 = from_json(g.json.at("output_float32"), shape, torch::kFloat);
  g.output_float64 = from_json(g.json.at("output_float64"), shape, torch::kDouble);
  return g;
}

torch::Tensor recipe_values(int64_t stream, int64_t numel, double offset, double scale) {
  std::vector<float> values(numel);
  for (int64_t i = 0; i < numel; ++i) {
    const uint64_t bits = splitmix64((static_cast<uint64_t>(stream) << 32) + i) >> 40;
    const double u = static_cast<double>(bits) / static_cast<double>(1 << 24) - 0.5;
    values[i] = static_cast<float>(offset + scale * u);
  }
  return torch::tensor(values, torch::kFloat);
}

std::string load_recipe_parameters(torch::nn::Module& module, const nlohmann::json& records) {
  auto params = module.named_parameters();
  if (params.size() != records.size()) {
    return "module has " + std::to_string(params.size()) + " parameters, golden " +
           std::to_string(records.size());
  }
  torch::NoGradGuard no_grad;
  for (const auto& r : records) {
    const std::string name = r.at("name");
    auto* p = params.find(name);
    if (p == nullptr) return "module has no parameter " + name;
    if (p->sizes().vec() != r.at("shape").get<std::vector<int64_t>>()) {
      std::ostringstream s;
      s << name << " has shape " << p->sizes() << ", golden " << r.at("shape").dump();
      return s.str();
    }
    auto values = recipe_values(r.at("stream"), p->numel(), r.at("offset"), r.at("scale"));
    p->copy_(values.reshape(p->sizes()));
  }
  return "";
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

}  // namespace fm::test
