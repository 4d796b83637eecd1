#include "fm/train/fused_adam.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <sstream>
#include <string>
#include <type_traits>

#include "fm/common/vector_clones.h"

namespace fm {
namespace {

using torch::optim::AdamParamState;

// The key torch's optimizers file a parameter's state under: the address of
// its TensorImpl, as a string in LibTorch 1.x and as the pointer itself in
// later versions.
template <typename Key>
Key state_key(const torch::Tensor& p) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream s;
    s << static_cast<const void*>(p.unsafeGetTensorImpl());
    return s.str();
  } else {
    return static_cast<Key>(p.unsafeGetTensorImpl());
  }
}

// Whether t lives at `offset` in `buffer` with the layout of `like`.
bool is_view_at(const torch::Tensor& t, const torch::Tensor& buffer, int64_t offset,
                const torch::Tensor& like) {
  return t.defined() && t.strides() == like.strides() &&
         t.data_ptr() == static_cast<char*>(buffer.data_ptr()) + offset * buffer.element_size();
}

// The place of p at `offset` in `buffer`, with p's sizes and strides (p is
// dense, so its elements fill exactly numel() places in any memory format).
// NOTE: an alias of the storage, not an autograd view: Optimizer::zero_grad()
// detaches gradients in place, which autograd refuses for views.
torch::Tensor view_at(const torch::Tensor& buffer, int64_t offset, const torch::Tensor& p) {
  torch::NoGradGuard no_grad;
  return torch::empty({0}, buffer.options())
      .set_(buffer.storage(), buffer.storage_offset() + offset, p.sizes(), p.strides());
}

// Adam's per-element arithmetic, as torch::optim::Adam::step does it with
// whole-tensor operations (there: eight passes over the buffers, here one).
struct AdamCoefficients {
  double beta1, beta2, eps, weight_decay, step_size, sqrt_bias_correction2;
};

// NOTE: the loops must vectorise: no branch inside them, no aliasing between
// the four buffers, and no errno from sqrt (v >= 0 anyway): this file is
// compiled with -fno-math-errno (CMakeLists.txt).
template <typename T>
inline void adam_range(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v,
                int64_t begin, int64_t end, const AdamCoefficients& c) {
  const T beta1 = c.beta1, beta2 = c.beta2, one_minus_beta1 = 1 - c.beta1;
  const T one_minus_beta2 = 1 - c.beta2, eps = c.eps, weight_decay = c.weight_decay;
  const T step_size = c.step_size, sqrt_bc2 = c.sqrt_bias_correction2;
  if (c.weight_decay != 0) {
    for (int64_t i = begin; i < end; ++i) {
      const T grad = g[i] + weight_decay * p[i];
      m[i] = m[i] * beta1 + one_minus_beta1 * grad;
      v[i] = v[i] * beta2 + one_minus_beta2 * grad * grad;
      p[i] -= step_size * m[i] / (std::sqrt(v[i]) / sqrt_bc2 + eps);
    }
    return;
  }
  for (int64_t i = begin; i < end; ++i) {
    m[i] = m[i] * beta1 + one_minus_beta1 * g[i];
    v[i] = v[i] * beta2 + one_minus_beta2 * g[i] * g[i];
    p[i] -= step_size * m[i] / (std::sqrt(v[i]) / sqrt_bc2 + eps);
  }
}

// The float loop also for AVX2 and AVX-512: the same arithmetic per element
// in wider vectors (this file is compiled without fused multiply-adds, so
// every CPU rounds alike).
FM_VECTOR_CLONES void adam_range_float(float* __restrict p, const float* __restrict g,
                                       float* __restrict m, float* __restrict v, int64_t begin,
                                       int64_t end, const AdamCoefficients& c) {
  adam_range(p, g, m, v, begin, end, c);
}

template <typename T>
void adam_update(T* p, const T* g, T* m, T* v, int64_t n, const AdamCoefficients& c) {
  at::parallel_for(0, n, 1 << 14, [&](int64_t begin, int64_t end) {
    if constexpr (std::is_same_v<T, float>) {
      adam_range_float(p, g, m, v, begin, end, c);
    } else {
      adam_range(p, g, m, v, begin, end, c);
    }
  });
}

}  // namespace

FusedAdam::FusedAdam(std::vector<torch::Tensor> params, torch::optim::AdamOptions options)
    : torch::optim::Adam(std::move(params), options) {}

AdamParamState& FusedAdam::state_of(const torch::Tensor& p) {
  using Key = typename std::decay_t<decltype(state_)>::key_type;
  auto key = state_key<Key>(p);
  auto found = state_.find(key);
  if (found == state_.end()) {
    auto state = std::make_unique<AdamParamState>();
    state->step(0);
    state->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
    state->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
    found = state_.emplace(key, std::move(state)).first;
  }
  return static_cast<AdamParamState&>(*found->second);
}

bool FusedAdam::can_fuse() {
  if (param_groups_.size() != 1) return false;
  const auto& options = static_cast<const torch::optim::AdamOptions&>(param_groups_[0].options());
  const auto& params = param_groups_[0].params();
  if (options.amsgrad() || params.empty()) return false;
  int64_t step = -1;
  for (const auto& p : params) {
    if (!p.grad().defined() || p.grad().is_sparse() || !p.is_non_overlapping_and_dense() ||
        p.scalar_type() != params[0].scalar_type() || p.device() != params[0].device()) {
      return false;
    }
    // Every parameter must be at the same step: the bias correction is shared.
    int64_t s = state_of(p).step();
    if (step >= 0 && s != step) return false;
    step = s;
  }
  return true;
}

bool FusedAdam::in_buffers() const {
  const auto& params = param_groups_[0].params();
  if (!params_.defined() || offsets_.size() != params.size()) return false;
  using Key = typename std::decay_t<decltype(state_)>::key_type;
  for (size_t i = 0; i < params.size(); ++i) {
    const auto& p = params[i];
    auto found = state_.find(state_key<Key>(p));
    if (found == state_.end()) return false;
    const auto& state = static_cast<const AdamParamState&>(*found->second);
    if (!is_view_at(p, params_, offsets_[i], p) ||
        !is_view_at(state.exp_avg(), exp_avg_, offsets_[i], p) ||
        !is_view_at(state.exp_avg_sq(), exp_avg_sq_, offsets_[i], p)) {
      return false;
    }
  }
  return true;
}

void FusedAdam::rebuild_buffers() {
  auto& params = param_groups_[0].params();
  offsets_.clear();
  int64_t total = 0;
  for (const auto& p : params) offsets_.push_back(total), total += p.numel();
  const auto options = params[0].options().requires_grad(false);
  params_ = torch::empty({total}, options), grads_ = torch::empty({total}, options);
  exp_avg_ = torch::empty({total}, options), exp_avg_sq_ = torch::empty({total}, options);

  // Copy each tensor in, then make it a view of its slice: the parameter keeps
  // its TensorImpl, so modules, autograd and the state map still find it.
  for (size_t i = 0; i < params.size(); ++i) {
    auto& p = params[i];
    auto& state = state_of(p);
    auto moved = [&](const torch::Tensor& buffer, const torch::Tensor& from) {
      auto view = view_at(buffer, offsets_[i], p);
      view.copy_(from);
      return view;
    };
    p.set_data(moved(params_, p.detach()));
    state.exp_avg(moved(exp_avg_, state.exp_avg()));
    state.exp_avg_sq(moved(exp_avg_sq_, state.exp_avg_sq()));
  }
}

void FusedAdam::gather_grads() {
  // Backward accumulates into a defined gradient in place, so after the first
  // step the views stay put and this is a pointer check per tensor. A fresh
  // gradient (the first step, or zero_grad() setting them to none in
  // LibTorch 2.x) is copied in and replaced by its view.
  auto& params = param_groups_[0].params();
  for (size_t i = 0; i < params.size(); ++i) {
    auto& p = params[i];
    if (is_view_at(p.grad(), grads_, offsets_[i], p)) continue;
    auto view = view_at(grads_, offsets_[i], p);
    view.copy_(p.grad());
    p.mutable_grad() = view;
  }
}

torch::Tensor FusedAdam::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  if (!can_fuse()) return torch::optim::Adam::step(closure);
  torch::Tensor loss;
  if (closure) {
    torch::AutoGradMode grad_on(true);
    loss = closure();
  }
  if (!in_buffers()) rebuild_buffers();
  gather_grads();

  // torch::optim::Adam::step's update, in one pass over the buffers.
  const auto& o = static_cast<const torch::optim::AdamOptions&>(param_groups_[0].options());
  int64_t step = 0;
  for (const auto& p : param_groups_[0].params()) {
    auto& state = state_of(p);
    state.step(state.step() + 1);
    step = state.step();
  }
  const double beta1 = std::get<0>(o.betas()), beta2 = std::get<1>(o.betas());
  AdamCoefficients c{beta1,
                     beta2,
                     o.eps(),
                     o.weight_decay(),
                     o.lr() / (1 - std::pow(beta1, step)),
                     std::sqrt(1 - std::pow(beta2, step))};
  AT_DISPATCH_FLOATING_TYPES(params_.scalar_type(), "fused_adam", [&] {
    adam_update(params_.data_ptr<scalar_t>(), grads_.data_ptr<scalar_t>(),
                exp_avg_.data_ptr<scalar_t>(), exp_avg_sq_.data_ptr<scalar_t>(), params_.numel(),
                c);
  });
  return loss;
}

}  // namespace fm
