#include "fm/train/sliced_gradient.h"

#include <ATen/Parallel.h>
#include <ATen/ThreadLocalState.h>

#include <unordered_set>
#include <vector>

#include "fm/paths/path.h"

namespace fm {

int64_t gradient_slices(const VelocityModel& model, int64_t rows, const torch::Device& device) {
#ifndef INTRA_OP_PARALLEL
  return 1;  // parallel_for would run the slices one after the other
#endif
  if (!model.trains_in_row_slices() || !device.is_cpu() || at::in_parallel_region()) return 1;
  return std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), rows / kMinRowsPerSlice));
}

torch::Tensor flow_matching_backward(VelocityModel& model, const torch::Tensor& x_t,
                                     const torch::Tensor& t, const torch::Tensor& u_t) {
  const int64_t rows = x_t.size(0);
  const int64_t slices = gradient_slices(model, rows, x_t.device());
  if (slices == 1) {
    auto loss = flow_matching_loss(model.forward(x_t, t), u_t);
    loss.backward();
    return loss.detach();
  }

  // Each trainable tensor once, even if registered under two names.
  std::vector<torch::Tensor> params;
  std::unordered_set<const void*> seen;
  for (const auto& p : model.parameters()) {
    if (p.requires_grad() && seen.insert(p.unsafeGetTensorImpl()).second) params.push_back(p);
  }
  // Slice s holds rows [rows * s / slices, rows * (s + 1) / slices).
  std::vector<std::vector<torch::Tensor>> grads(slices);
  std::vector<torch::Tensor> losses(slices);
  // Grad mode and the like are per thread: the workers take the caller's.
  const at::ThreadLocalState caller_state;
  at::parallel_for(0, slices, 1, [&](int64_t begin, int64_t end) {
    at::ThreadLocalStateGuard same_state(caller_state);
    for (int64_t s = begin; s < end; ++s) {
      const int64_t lo = rows * s / slices, count = rows * (s + 1) / slices - lo;
      const auto v = model.forward(x_t.narrow(0, lo, count), t.narrow(0, lo, count));
      // The slice's share of the batch mean: its own mean times its row share.
      auto loss = flow_matching_loss(v, u_t.narrow(0, lo, count)) *
                  (static_cast<double>(count) / static_cast<double>(rows));
      grads[s] = torch::autograd::grad({loss}, params, /*grad_outputs=*/{},
                                       /*retain_graph=*/false, /*create_graph=*/false,
                                       /*allow_unused=*/true);
      losses[s] = loss.detach();
    }
  });

  // Sum in slice order into the existing gradients, in place (an optimiser
  // may hold views of them, as FusedAdam does), as backward() accumulates; a
  // missing gradient becomes a fresh tensor, never one autograd returned.
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params.size(); ++i) {
    std::vector<torch::Tensor> parts;
    for (int64_t s = 0; s < slices; ++s) {
      if (grads[s][i].defined()) parts.push_back(grads[s][i]);
    }
    if (parts.empty()) continue;
    auto& grad = params[i].mutable_grad();
    if (grad.defined()) {
      for (const auto& part : parts) grad.add_(part);
      continue;
    }
    auto sum = parts.size() == 1 ? parts[0].clone() : parts[0] + parts[1];
    for (size_t k = 2; k < parts.size(); ++k) sum.add_(parts[k]);
    grad = sum;
  }
  auto loss = losses[0];
  for (int64_t s = 1; s < slices; ++s) loss = loss + losses[s];
  return loss;
}

}  // namespace fm
