// The training step's forward and backward pass, with the batch cut into one
// slice per intra-op thread on the CPU (issue #5, docs/speed.md).
//
// A plain forward/backward spreads every operation over the threads, and at
// the bench networks' sizes the threads then spend much of the step waiting
// for each other between operations. Here each thread runs the whole forward
// and backward pass of its own rows with single-threaded kernels, and the
// slices' gradients are added in a fixed order: toy2d's step is ~1.4x faster
// on two threads, tabular8's ~1.3x (fm-bench-train-step).
//
// Where the network backpropagates by hand (VelocityModel::regression_gradient,
// the MLP), each slice, or the whole batch where there is one slice (one
// thread, a GPU, a small batch), takes that path instead of autograd's graph:
// toy2d's step ~7% faster still (docs/speed.md).
//
// The result is the batch's gradient up to float rounding, for networks that
// treat the rows of a batch independently (the MLP; see
// VelocityModel::trains_in_row_slices for the other conditions). It depends on
// the number of slices only through that rounding, and is reproducible for a
// fixed thread count.
#pragma once

#include <torch/torch.h>

#include "fm/nn/velocity_model.h"

namespace fm {

// Computes the flow matching loss of model(x_t, t) against u_t (the mean over
// every element, as flow_matching_loss) and adds its gradient to the .grad()
// of every parameter that requires one, as loss.backward() would. Returns the
// loss, detached. x_t: (B, ...), t: (B,), u_t shaped like x_t.
//
// Slices are used for a model whose rows train independently
// (VelocityModel::trains_in_row_slices), on CPU tensors, when more than
// one intra-op thread is set, the batch has at least kMinRowsPerSlice rows per slice, and the call is not
// already inside a parallel region; otherwise this is one forward/backward.
torch::Tensor flow_matching_backward(VelocityModel& model, const torch::Tensor& x_t,
                                     const torch::Tensor& t, const torch::Tensor& u_t);

// Fewest rows a slice gets: below this the per-slice products are too small to
// be worth a thread.
constexpr int64_t kMinRowsPerSlice = 32;

// The number of slices flow_matching_backward() cuts a batch of `rows` rows
// of `model` on `device` into (1: no slicing).
int64_t gradient_slices(const VelocityModel& model, int64_t rows, const torch::Device& device);

}  // namespace fm
