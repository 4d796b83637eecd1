#include "fm/data/toy2d.h"

#include <cmath>
#include <functional>
#include <map>

#include "fm/common/error.h"

// Each density follows FFJORD's lib/toy_data.py (Grathwohl et al. 2019): the
// same shapes, scales and noise levels, drawn with LibTorch from the caller's
// generator instead of numpy's global state. Where FFJORD returns a multiple of
// a group count (pinwheel: 5 arms), the groups here differ in size by at most
// one so that exactly n points come back.

namespace fm {
namespace {

using Sampler = std::function<torch::Tensor(int64_t, at::Generator&, double)>;

const double kPi = 3.14159265358979323846;
const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);

torch::Tensor uniform(int64_t n, at::Generator& g) { return torch::rand({n}, g, kF64); }
torch::Tensor normal(int64_t n, int64_t d, at::Generator& g) {
  return torch::randn({n, d}, g, kF64);
}

// Points on a circle at the angles 2 pi k / m, k = 0..m-1 (np.linspace, endpoint=False).
torch::Tensor circle(int64_t m, double radius) {
  torch::Tensor angle = torch::arange(m, kF64) * (2 * kPi / std::max<int64_t>(m, 1));
  return torch::stack({torch::cos(angle), torch::sin(angle)}, 1) * radius;
}

// Rows in a random order, as sklearn's shuffle and numpy's permutation do.
torch::Tensor shuffle_rows(const torch::Tensor& x, at::Generator& g) {
  return x.index_select(0, torch::randperm(x.size(0), g, torch::kLong));
}

// NOTE: moons follows sample_moons of the reference benchmark (bench/cfm_ref.py),
// not sklearn's make_moons, so that our numbers compare with that benchmark. It
// computes in float32 with the same draws in the same order, so a generator
// seeded like torch.manual_seed(s) reproduces the reference bit for bit.
torch::Tensor moons(int64_t n, at::Generator& g, double) {
  const int64_t n_out = n / 2;
  torch::Tensor a = torch::rand({n}, g, torch::kFloat32) * kPi;
  torch::Tensor ao = a.slice(0, 0, n_out), ai = a.slice(0, n_out);
  torch::Tensor outer = torch::stack({torch::cos(ao), torch::sin(ao)}, 1);
  torch::Tensor inner = torch::stack({1.0 - torch::cos(ai), 0.5 - torch::sin(ai)}, 1);
  torch::Tensor x = torch::cat({outer, inner}, 0) + 0.1 * torch::randn({n, 2}, g, torch::kFloat32);
  return (x - torch::tensor({0.5f, 0.25f})) * 2.0;
}

// Eight blobs of std 0.5 on a circle of radius 4, all divided by 1.414 (FFJORD's
// constant, not sqrt(2)): centres at radius 2.8289, std 0.3536 each.
torch::Tensor eight_gaussians(int64_t n, at::Generator& g, double) {
  const double s = 1.0 / std::sqrt(2.0);
  torch::Tensor centres =
      torch::tensor({1.0, 0.0, -1.0, 0.0, 0.0, 1.0, 0.0, -1.0, s, s, s, -s, -s, s, -s, -s}, kF64)
          .view({8, 2}) *
      4.0;
  torch::Tensor point = normal(n, 2, g) * 0.5;
  torch::Tensor which = torch::randint(0, 8, {n}, g, torch::kLong);
  return (point + centres.index_select(0, which)) / 1.414;
}

torch::Tensor checkerboard(int64_t n, at::Generator& g, double) {
  torch::Tensor x1 = uniform(n, g) * 4 - 2;
  torch::Tensor x2 = uniform(n, g) - torch::randint(0, 2, {n}, g, kF64) * 2;
  // Python's % on floor(x1): remainder takes the divisor's sign, like Python.
  x2 = x2 + torch::remainder(torch::floor(x1), 2);
  return torch::stack({x1, x2}, 1) * 2;
}

// sklearn's make_circles(factor=0.5, noise=0.08) scaled by 3.
torch::Tensor circles(int64_t n, at::Generator& g, double) {
  const int64_t n_out = n / 2;
  torch::Tensor x = torch::cat({circle(n_out, 1.0), circle(n - n_out, 0.5)}, 0);
  x = shuffle_rows(x, g) + 0.08 * normal(n, 2, g);
  return x * 3;
}

// Four concentric rings of radius 3, 2.25, 1.5 and 0.75 (the innermost takes
// the remainder), noise 0.08 added after scaling.
torch::Tensor rings(int64_t n, at::Generator& g, double) {
  const int64_t q = n / 4;
  torch::Tensor x =
      torch::cat({circle(q, 1.0), circle(q, 0.75), circle(q, 0.5), circle(n - 3 * q, 0.25)}, 0) *
      3.0;
  return shuffle_rows(x, g) + normal(n, 2, g) * 0.08;
}

// Five arms: radial std 0.3 around 1, tangential std 0.1, each point rotated by
// its arm's angle plus 0.25 exp(radius), then scaled by 2.
torch::Tensor pinwheel(int64_t n, at::Generator& g, double) {
  torch::Tensor f = normal(n, 2, g) * torch::tensor({0.3, 0.1}, kF64);
  torch::Tensor radial = f.select(1, 0) + 1.0, tangential = f.select(1, 1);
  torch::Tensor arm = torch::div(torch::arange(n, kF64) * 5, std::max<int64_t>(n, 1)).floor();
  torch::Tensor angle = arm * (2 * kPi / 5) + 0.25 * torch::exp(radial);
  torch::Tensor c = torch::cos(angle), s = torch::sin(angle);
  torch::Tensor x = torch::stack({radial * c + tangential * s, -radial * s + tangential * c}, 1);
  return 2 * shuffle_rows(x, g);
}

// Two arms of 540 degrees; the first n / 2 points on one, the rest mirrored.
torch::Tensor two_spirals(int64_t n, at::Generator& g, double) {
  torch::Tensor t = torch::sqrt(uniform(n, g)) * (540 * 2 * kPi / 360);
  torch::Tensor dx = -torch::cos(t) * t + uniform(n, g) * 0.5;
  torch::Tensor dy = torch::sin(t) * t + uniform(n, g) * 0.5;
  torch::Tensor sign = torch::ones({n, 1}, kF64);
  sign.slice(0, n / 2).fill_(-1.0);
  return sign * torch::stack({dx, dy}, 1) / 3 + normal(n, 2, g) * 0.1;
}

// sklearn's make_swiss_roll(noise=1.0), columns 0 and 2, divided by 5.
torch::Tensor swissroll(int64_t n, at::Generator& g, double) {
  torch::Tensor t = 1.5 * kPi * (1 + 2 * uniform(n, g));
  torch::Tensor x = torch::stack({t * torch::cos(t), t * torch::sin(t)}, 1);
  return (x + normal(n, 2, g)) / 5;
}

torch::Tensor gaussian_shift(int64_t n, at::Generator& g, double shift) {
  return normal(n, 2, g) + torch::tensor({shift, 0.0}, kF64);
}

const std::map<std::string, Sampler>& samplers() {
  static const std::map<std::string, Sampler> table = {{"moons", moons},
                                                       {"8gaussians", eight_gaussians},
                                                       {"checkerboard", checkerboard},
                                                       {"circles", circles},
                                                       {"pinwheel", pinwheel},
                                                       {"2spirals", two_spirals},
                                                       {"swissroll", swissroll},
                                                       {"rings", rings},
                                                       {"gaussian-shift", gaussian_shift}};
  return table;
}

}  // namespace

const std::vector<std::string>& toy2d_names() {
  static const std::vector<std::string> names = {"moons",     "8gaussians", "checkerboard",
                                                 "circles",   "pinwheel",   "2spirals",
                                                 "swissroll", "rings",      "gaussian-shift"};
  return names;
}

torch::Tensor sample_toy2d(const std::string& name, int64_t n, at::Generator& generator,
                           double shift) {
  const auto it = samplers().find(name);
  if (it == samplers().end()) {
    std::string valid;
    for (const auto& v : toy2d_names()) valid += (valid.empty() ? "" : ", ") + v;
    throw InputError("toy2d: unknown density '" + name + "'; valid: " + valid);
  }
  if (n < 0) throw InputError("toy2d: n=" + std::to_string(n) + " must be >= 0");
  if (!std::isfinite(shift)) throw InputError("toy2d: shift must be finite");
  return it->second(n, generator, shift).to(torch::kFloat32).contiguous();
}

}  // namespace fm
