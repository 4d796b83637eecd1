// The MLP's matrix products (private to fm/nn). Builds that found oneDNN's
// library (FM_WITH_DNNL_SGEMM, see CMakeLists.txt) send float32 CPU products
// to dnnl_sgemm, which on this project's AVX-512 machines is 1.1-1.5x faster
// than the OpenBLAS sgemm LibTorch calls at the MLPs' shapes (measured in
// docs/speed.md); everything else goes to LibTorch. Results agree with
// LibTorch's to float32 rounding.
#pragma once

#include <torch/torch.h>

namespace fm::nn_detail {

// Whether float32 products go through oneDNN in this build.
bool uses_dnnl_sgemm();

// out = a b, or out += a b with accumulate. a: (M, K), b: (K, N), out: (M, N),
// all of one dtype and device; a and b may be transposed views. No autograd.
void product_out(torch::Tensor& out, const torch::Tensor& a, const torch::Tensor& b,
                 bool accumulate = false);

// a b as a new (M, N) tensor. No autograd.
torch::Tensor product(const torch::Tensor& a, const torch::Tensor& b);

// x w^T + bias, as torch::addmm(bias, x, w.t()). x: (B, in), w: (out, in),
// bias: (out,) or undefined. No autograd.
torch::Tensor affine(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& bias);

// affine() with autograd: the backward pass takes its products from product()
// too (first order; with create_graph it uses LibTorch's differentiable ones).
torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& bias);

}  // namespace fm::nn_detail
