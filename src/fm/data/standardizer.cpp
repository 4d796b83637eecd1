#include "fm/data/standardizer.h"

#include <cmath>
#include <sstream>

#include "fm/common/error.h"

namespace fm {
namespace {

// A column whose spread is below this fraction of its magnitude is constant up
// to rounding: float64 sums of equal values can leave a std of ~1e-16 |mean|.
const double kRelativeZeroStd = 1e-12;

void check_columns(const torch::Tensor& x, const torch::Tensor& mean, const char* what) {
  if (!x.defined() || x.dim() != 2 || x.size(1) != mean.size(0)) {
    throw InputError(std::string("standardizer: ") + what + " expects (N, " +
                     std::to_string(mean.size(0)) + "), got " +
                     (x.defined() ? c10::str(x.sizes()) : std::string("undefined")));
  }
}

// The float64 result in x's own floating dtype (float64 for integer input).
torch::Tensor like_input(const torch::Tensor& result, const torch::Tensor& x) {
  return x.is_floating_point() ? result.to(x.scalar_type()) : result;
}

}  // namespace

Standardizer::Standardizer(torch::Tensor mean, torch::Tensor std)
    : mean_(mean.to(torch::kCPU, torch::kFloat64).contiguous()),
      std_(std.to(torch::kCPU, torch::kFloat64).contiguous()) {
  if (mean_.dim() != 1 || std_.sizes() != mean_.sizes()) {
    throw InputError("standardizer: mean and std must both be (D,), got " + c10::str(mean.sizes()) +
                     " and " + c10::str(std.sizes()));
  }
  if (!torch::isfinite(mean_).all().item<bool>() || !(std_ > 0).all().item<bool>() ||
      !torch::isfinite(std_).all().item<bool>()) {
    throw InputError("standardizer: mean must be finite and std finite and > 0");
  }
}

Standardizer Standardizer::fit(const torch::Tensor& x, const std::string& what) {
  if (!x.defined() || x.dim() != 2 || x.size(0) < 2) {
    throw InputError("standardizer: " + what + " must be (N, D) with N >= 2 rows to fit, got " +
                     (x.defined() ? c10::str(x.sizes()) : std::string("undefined")));
  }
  const torch::Tensor x64 = x.to(torch::kCPU, torch::kFloat64);
  const torch::Tensor mean = x64.mean(0);
  // NOTE: population std (ddof = 0, numpy's default); MAF's preprocessing uses it too.
  const torch::Tensor std = (x64 - mean).square().mean(0).sqrt();

  auto m = mean.accessor<double, 1>();
  auto s = std.accessor<double, 1>();
  for (int64_t j = 0; j < mean.size(0); ++j) {
    if (!std::isfinite(m[j]) || !std::isfinite(s[j])) {
      throw InputError("standardizer: " + what + " column " + std::to_string(j) +
                       " holds non-finite values");
    }
    if (s[j] <= kRelativeZeroStd * std::max(1.0, std::abs(m[j]))) {
      std::ostringstream value;
      value.precision(17);
      value << m[j];
      throw InputError("standardizer: " + what + " column " + std::to_string(j) +
                       " (0-based) is constant (every value " + value.str() +
                       "); a constant column has no density, drop it first");
    }
  }
  return Standardizer(mean, std);
}

torch::Tensor Standardizer::transform(const torch::Tensor& x) const {
  if (is_identity()) return x;
  check_columns(x, mean_, "transform");
  return like_input((x.to(torch::kFloat64) - mean_.to(x.device())) / std_.to(x.device()), x);
}

torch::Tensor Standardizer::inverse(const torch::Tensor& z) const {
  if (is_identity()) return z;
  check_columns(z, mean_, "inverse");
  return like_input(z.to(torch::kFloat64) * std_.to(z.device()) + mean_.to(z.device()), z);
}

double Standardizer::sum_log_std() const {
  return is_identity() ? 0.0 : std_.log().sum().item<double>();
}

nlohmann::json Standardizer::to_json() const {
  if (is_identity()) return {{"mean", nullptr}, {"std", nullptr}};
  auto as_vector = [](const torch::Tensor& t) {
    return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
  };
  return {{"mean", as_vector(mean_)}, {"std", as_vector(std_)}};
}

Standardizer Standardizer::from_json(const nlohmann::json& j) {
  const bool identity = j.is_object() && (!j.contains("mean") || j["mean"].is_null()) &&
                        (!j.contains("std") || j["std"].is_null());
  if (identity) return Standardizer();
  try {
    auto mean = j.at("mean").get<std::vector<double>>();
    auto std = j.at("std").get<std::vector<double>>();
    return Standardizer(torch::tensor(mean, torch::kFloat64), torch::tensor(std, torch::kFloat64));
  } catch (const nlohmann::json::exception& e) {
    throw InputError(std::string("standardizer: JSON must hold numeric arrays 'mean' and 'std': ") +
                     e.what());
  }
}

}  // namespace fm
