#include "fm/paths/path.h"

#include <sstream>

#include "fm/common/error.h"
#include "fm/paths/assignment.h"

namespace fm {
namespace {

std::string shape_of(const torch::Tensor& x) {
  std::ostringstream s;
  s << x.sizes();
  return s.str();
}

void check_options(const PathOptions& o) {
  if (o.type != "condot" && o.type != "icfm" && o.type != "otcfm") {
    throw InputError("path: type '" + o.type + "' must be one of condot, icfm, otcfm");
  }
  if (!(o.sigma_min >= 0.0 && o.sigma_min < 1.0)) {
    throw InputError("path: sigma_min = " + std::to_string(o.sigma_min) + " must be >= 0 and < 1");
  }
  if (!(o.sigma >= 0.0 && std::isfinite(o.sigma))) {
    throw InputError("path: sigma = " + std::to_string(o.sigma) + " must be finite and >= 0");
  }
}

// x_0 and x_1 must be (B, ...) alike, with at least one row.
void check_endpoints(const torch::Tensor& x_0, const torch::Tensor& x_1) {
  if (x_0.dim() < 1 || x_0.sizes() != x_1.sizes() || x_0.size(0) < 1) {
    throw InputError("path: x_0 " + shape_of(x_0) + " and x_1 " + shape_of(x_1) +
                     " must have the same shape (B, ...) with B >= 1");
  }
}

// (B,) -> (B, 1, ..., 1) in x's dtype, to broadcast over the non-batch dims.
torch::Tensor broadcast_time(const torch::Tensor& t, const torch::Tensor& x) {
  if (t.dim() != 1 || t.size(0) != x.size(0)) {
    throw InputError("path: t " + shape_of(t) +
                     " must be (B) with B = " + std::to_string(x.size(0)));
  }
  std::vector<int64_t> shape(x.dim(), 1);
  shape[0] = x.size(0);
  return t.to(x.options()).reshape(shape);
}

}  // namespace

PathSample sample_path(const PathOptions& options, const torch::Tensor& x_0,
                       const torch::Tensor& x_1, const torch::Tensor& t, at::Generator& generator) {
  check_options(options);
  check_endpoints(x_0, x_1);
  const auto t_b = broadcast_time(t, x_0);

  // CondOT (Lipman et al.): affine in t, so the target does not depend on t.
  if (options.type == "condot") {
    const double shrink = 1.0 - options.sigma_min;
    return {(1.0 - shrink * t_b) * x_0 + t_b * x_1, x_1 - shrink * x_0};
  }

  // Independent and minibatch-OT CFM (Tong et al.): straight line plus
  // constant Gaussian noise, which does not change the target.
  auto x_t = (1.0 - t_b) * x_0 + t_b * x_1;
  if (options.sigma > 0.0) {
    // Drawn on the generator's device, so a CPU generator also serves CUDA data.
    const auto eps = torch::randn(x_0.sizes(), generator, x_0.options().device(generator.device()));
    x_t = x_t + options.sigma * eps.to(x_0.device());
  }
  return {x_t, x_1 - x_0};
}

torch::Tensor couple(const PathOptions& options, const torch::Tensor& x_0,
                     const torch::Tensor& x_1) {
  check_options(options);
  check_endpoints(x_0, x_1);
  if (options.type != "otcfm") return x_0;

  // Squared Euclidean cost between flattened rows, in double: rows of the
  // assignment are the x_1, columns the x_0 they may be paired with.
  const int64_t n = x_0.size(0);
  const auto a = x_1.detach().reshape({n, -1}).to(torch::kCPU, torch::kDouble);
  const auto b = x_0.detach().reshape({n, -1}).to(torch::kCPU, torch::kDouble);
  auto cost = (a.square().sum(1, true) + b.square().sum(1).unsqueeze(0) - 2.0 * a.matmul(b.t()))
                  .clamp_min(0.0)
                  .contiguous();
  std::vector<double> flat(cost.data_ptr<double>(), cost.data_ptr<double>() + n * n);
  const std::vector<int64_t> col_for_row = solve_assignment(flat, n);
  auto index = torch::tensor(col_for_row, torch::kLong).to(x_0.device());
  return x_0.index_select(0, index);
}

torch::Tensor flow_matching_loss(const torch::Tensor& v, const torch::Tensor& u_t) {
  if (v.sizes() != u_t.sizes()) {
    throw InputError("path: loss needs v " + shape_of(v) + " and u_t " + shape_of(u_t) +
                     " of the same shape");
  }
  // Mean over every element (batch and all dims), as cfm_ref.py and torchcfm.
  return (v - u_t).square().mean();
}

}  // namespace fm
