#include "fm/nn/matmul.h"

#include <algorithm>
#include <cstdint>

#ifdef FM_WITH_DNNL_SGEMM
// oneDNN's C API (oneapi/dnnl/dnnl.h), declared here because Debian ships the
// library with LibTorch but not its headers. Row-major:
// C = alpha op(A) op(B) + beta C, op(X) = X or X^T; returns 0 on success.
extern "C" int dnnl_sgemm(char transa, char transb, int64_t m, int64_t n, int64_t k, float alpha,
                          const float* a, int64_t lda, const float* b, int64_t ldb, float beta,
                          float* c, int64_t ldc);
#endif

namespace fm::nn_detail {
namespace {

#ifdef FM_WITH_DNNL_SGEMM
// A (rows x cols) operand in oneDNN's terms: row-major with a leading
// dimension ('N'), or the transpose of a row-major matrix ('T').
struct Operand {
  char trans;
  int64_t ld;
  torch::Tensor data;
};

Operand operand(const torch::Tensor& m) {
  const int64_t rows = m.size(0), cols = m.size(1);
  if (m.stride(1) == 1 && m.stride(0) >= std::max<int64_t>(1, cols)) return {'N', m.stride(0), m};
  if (m.stride(0) == 1 && m.stride(1) >= std::max<int64_t>(1, rows)) return {'T', m.stride(1), m};
  auto copy = m.contiguous();
  return {'N', std::max<int64_t>(1, cols), copy};
}

bool fits_dnnl(const torch::Tensor& out, const torch::Tensor& a, const torch::Tensor& b) {
  for (const auto* t : {&out, &a, &b}) {
    if (t->scalar_type() != torch::kFloat || !t->device().is_cpu() || t->dim() != 2 ||
        t->numel() == 0) {
      return false;
    }
  }
  return out.stride(1) == 1 && out.stride(0) >= std::max<int64_t>(1, out.size(1)) &&
         a.size(0) == out.size(0) && b.size(1) == out.size(1) && a.size(1) == b.size(0);
}

// out (+)= a b through oneDNN; false if it declined (nothing written then).
bool dnnl_matmul_out(torch::Tensor& out, const torch::Tensor& a, const torch::Tensor& b,
                     bool accumulate) {
  if (!fits_dnnl(out, a, b)) return false;
  const auto op_a = operand(a), op_b = operand(b);
  return dnnl_sgemm(op_a.trans, op_b.trans, out.size(0), out.size(1), a.size(1), 1.0f,
                    op_a.data.data_ptr<float>(), op_a.ld, op_b.data.data_ptr<float>(), op_b.ld,
                    accumulate ? 1.0f : 0.0f, out.data_ptr<float>(), out.stride(0)) == 0;
}
#endif

// x w^T + bias with autograd, the products from product().
class LinearFunction : public torch::autograd::Function<LinearFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& w, const torch::Tensor& bias) {
    ctx->save_for_backward({x, w});
    return affine(x, w, bias);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto& w = saved[1];
    const auto g = grads[0].contiguous();
    // With create_graph the products must themselves be differentiable.
    const bool differentiable = torch::GradMode::is_enabled();
    auto multiply = [&](const torch::Tensor& a, const torch::Tensor& b) {
      return differentiable ? a.mm(b) : product(a, b);
    };
    torch::Tensor dx, dw, db;
    if (ctx->needs_input_grad(0)) dx = multiply(g, w);
    if (ctx->needs_input_grad(1)) dw = multiply(g.t(), x);
    if (ctx->needs_input_grad(2)) db = g.sum(0);
    return {dx, dw, db};
  }
};

}  // namespace

bool uses_dnnl_sgemm() {
#ifdef FM_WITH_DNNL_SGEMM
  return true;
#else
  return false;
#endif
}

void product_out(torch::Tensor& out, const torch::Tensor& a, const torch::Tensor& b,
                 bool accumulate) {
#ifdef FM_WITH_DNNL_SGEMM
  if (dnnl_matmul_out(out, a, b, accumulate)) return;
#endif
  if (accumulate) {
    out.addmm_(a, b);
  } else {
    torch::mm_out(out, a, b);
  }
}

torch::Tensor product(const torch::Tensor& a, const torch::Tensor& b) {
  auto out = torch::empty({a.size(0), b.size(1)}, a.options());
  product_out(out, a, b);
  return out;
}

torch::Tensor affine(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& bias) {
  auto out = torch::empty({x.size(0), w.size(0)}, x.options());
  if (!bias.defined()) {
    product_out(out, x, w.t());
    return out;
  }
  // As LibTorch's addmm: the bias in the output first, then accumulate.
  out.copy_(bias.expand_as(out));
  product_out(out, x, w.t(), /*accumulate=*/true);
  return out;
}

torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& bias) {
  return LinearFunction::apply(x, w, bias);
}

}  // namespace fm::nn_detail
