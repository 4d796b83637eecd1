#include "fm/train/sliced_gradient.h"

#include <string>
#include <unordered_set>
#include <vector>

#include "fm/common/error.h"
#include "fm/common/row_slices.h"
#include "fm/paths/path.h"

namespace fm {

int64_t gradient_slices(const VelocityModel& model, int64_t rows, const torch::Device& device) {
  return model.trains_in_row_slices() ? row_slice_count(rows, kMinRowsPerSlice, device) : 1;
}

namespace {

// Adds each slice's gradients, in slice order, into the parameters' .grad():
// in place where one exists (an optimiser may hold views of them, as FusedAdam
// does), as backward() accumulates; a missing gradient becomes a fresh tensor,
// never one that autograd returned.
void add_gradients(const std::vector<torch::Tensor>& params,
                   const std::vector<std::vector<torch::Tensor>>& grads) {
  torch::NoGradGuard no_grad;
  for (const auto& slice : grads) {
    if (slice.size() != params.size()) {
      throw RuntimeError("train: a slice returned " + std::to_string(slice.size()) +
                         " gradients for " + std::to_string(params.size()) + " parameters");
    }
  }
  for (size_t i = 0; i < params.size(); ++i) {
    std::vector<torch::Tensor> parts;
    for (const auto& slice : grads) {
      if (slice[i].defined()) parts.push_back(slice[i]);
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
}

}  // namespace

torch::Tensor flow_matching_backward(VelocityModel& model, const torch::Tensor& x_t,
                                     const torch::Tensor& t, const torch::Tensor& u_t) {
  const int64_t rows = x_t.size(0);
  const int64_t slices = gradient_slices(model, rows, x_t.device());

  // Each trainable tensor once, even if registered under two names.
  const auto registered = model.parameters();
  std::vector<torch::Tensor> params;
  std::unordered_set<const void*> seen;
  for (const auto& p : registered) {
    if (p.requires_grad() && seen.insert(p.unsafeGetTensorImpl()).second) params.push_back(p);
  }
  // The network's own backpropagation (VelocityModel::regression_gradient)
  // gives every parameter's gradient: only when every one is wanted, once.
  const bool whole_model = params.size() == registered.size();
  // The batch mean as a sum: each slice's share is its sum of squares over
  // the whole batch's element count.
  const double scale = 1.0 / static_cast<double>(u_t.numel());

  std::vector<std::vector<torch::Tensor>> grads(slices);
  std::vector<torch::Tensor> losses(slices);
  if (slices == 1) {
    if (whole_model && model.regression_gradient(x_t, t, u_t, scale, &grads[0], &losses[0])) {
      add_gradients(params, grads);
      return losses[0];
    }
    auto loss = flow_matching_loss(model.forward(x_t, t), u_t);
    loss.backward();
    return loss.detach();
  }

  run_row_slices(rows, slices, [&](int64_t s, int64_t lo, int64_t count) {
    const auto x = x_t.narrow(0, lo, count), time = t.narrow(0, lo, count),
               u = u_t.narrow(0, lo, count);
    if (whole_model && model.regression_gradient(x, time, u, scale, &grads[s], &losses[s])) {
      return;
    }
    // The slice's share of the batch mean: its own mean times its row share.
    auto loss = flow_matching_loss(model.forward(x, time), u) *
                (static_cast<double>(count) / static_cast<double>(rows));
    grads[s] = torch::autograd::grad({loss}, params, /*grad_outputs=*/{},
                                     /*retain_graph=*/false, /*create_graph=*/false,
                                     /*allow_unused=*/true);
    losses[s] = loss.detach();
  });

  add_gradients(params, grads);
  auto loss = losses[0];
  for (int64_t s = 1; s < slices; ++s) loss = loss + losses[s];
  return loss;
}

}  // namespace fm
