#include <c10/core/InferenceMode.h>

#include <string>
#include <vector>

#include "fm/common/error.h"
#include "fm/likelihood/velocity_divergence.h"

namespace fm {
namespace likelihood {
namespace {

std::string shape_of(const torch::Tensor& x) {
  std::string s = "[";
  for (int64_t i = 0; i < x.dim(); ++i) s += (i ? ", " : "") + std::to_string(x.size(i));
  return s + "]";
}

void check_batch(const torch::Tensor& x, const char* what) {
  if (!x.defined() || x.dim() < 1 || x.size(0) < 1 || !x.is_floating_point()) {
    throw InputError(std::string("likelihood: ") + what +
                     " must be a floating-point tensor of shape (B, ...) with B >= 1");
  }
}

// A leaf copy of x that autograd can differentiate with respect to. Inference
// tensors cannot take requires_grad, so those are copied instead of detached.
torch::Tensor differentiable_input(const torch::Tensor& x, bool keep_history) {
  if (keep_history && x.requires_grad()) return x;
  torch::Tensor leaf = x.is_inference() ? x.clone() : x.detach();
  return leaf.requires_grad_(true);
}

// grad_output^T (dv/dx) for the graph out = v(x_in); zeros where x_in is unused.
torch::Tensor vjp(const torch::Tensor& out, const torch::Tensor& x_in,
                  const torch::Tensor& grad_output, bool retain_graph, bool create_graph) {
  auto grads = torch::autograd::grad({out}, {x_in}, {grad_output}, retain_graph, create_graph,
                                     /*allow_unused=*/true);
  return grads[0].defined() ? grads[0] : torch::zeros_like(x_in);
}

// Sum of the diagonal of dv/dx per sample: one VJP per dimension with a one-hot
// row for every sample at once (samples are independent, so row b of the VJP
// only involves sample b's Jacobian).
torch::Tensor exact_divergence(const torch::Tensor& out, const torch::Tensor& x_in,
                               bool create_graph) {
  const int64_t batch = x_in.size(0);
  const int64_t dims = x_in.numel() / batch;
  torch::Tensor div = torch::zeros({batch}, out.options());
  for (int64_t i = 0; i < dims; ++i) {
    torch::Tensor one_hot = torch::zeros({batch, dims}, out.options());
    one_hot.select(1, i).fill_(1.0);
    const bool retain = create_graph || i + 1 < dims;
    torch::Tensor g = vjp(out, x_in, one_hot.view(out.sizes()), retain, create_graph);
    div = div + g.reshape({batch, dims}).select(1, i);
  }
  return div;
}

// mean_k eps_k^T (dv/dx) eps_k, one VJP per probe.
torch::Tensor hutchinson_divergence(const torch::Tensor& out, const torch::Tensor& x_in,
                                    const torch::Tensor& probes, bool create_graph) {
  const int64_t batch = x_in.size(0);
  const int64_t n_probes = probes.size(0);
  torch::Tensor sum = torch::zeros({batch}, out.options());
  for (int64_t k = 0; k < n_probes; ++k) {
    torch::Tensor eps = probes[k].to(out.options());
    const bool retain = create_graph || k + 1 < n_probes;
    torch::Tensor g = vjp(out, x_in, eps, retain, create_graph);
    sum = sum + (g * eps).reshape({batch, -1}).sum(1);
  }
  return sum / static_cast<double>(n_probes);
}

void check_probes(const torch::Tensor& probes, const torch::Tensor& x) {
  std::vector<int64_t> expected = {-1};
  for (int64_t d : x.sizes()) expected.push_back(d);
  bool ok = probes.defined() && probes.dim() == x.dim() + 1 && probes.size(0) >= 1;
  for (int64_t i = 1; ok && i < probes.dim(); ++i) ok = probes.size(i) == expected[i];
  if (!ok) {
    throw InputError("likelihood: hutchinson probes have shape " +
                     (probes.defined() ? shape_of(probes) : std::string("(none)")) +
                     ", expected (K, " + shape_of(x).substr(1) + " with K >= 1");
  }
}

}  // namespace

void validate(const DivergenceOptions& options) {
  if (options.estimator != "exact" && options.estimator != "hutchinson") {
    throw InputError("likelihood: divergence estimator '" + options.estimator +
                     "' is unknown; valid: exact, hutchinson");
  }
  if (options.probe != "gaussian" && options.probe != "rademacher") {
    throw InputError("likelihood: hutchinson probe '" + options.probe +
                     "' is unknown; valid: gaussian, rademacher");
  }
  if (options.n_probes < 1) {
    throw InputError("likelihood: n_probes=" + std::to_string(options.n_probes) + " must be >= 1");
  }
  if (options.rows_per_pass < 0) {
    throw InputError("likelihood: rows_per_pass=" + std::to_string(options.rows_per_pass) +
                     " must be >= 0");
  }
}

VelocityDivergence velocity_and_divergence(const Velocity& v, const torch::Tensor& x,
                                           const torch::Tensor& t, const DivergenceOptions& options,
                                           const torch::Tensor& probes, bool create_graph) {
  if (c10::InferenceMode::is_enabled()) {
    throw RuntimeError(
        "likelihood: divergence needs autograd and cannot run under c10::InferenceMode; "
        "use torch::NoGradGuard instead");
  }
  check_batch(x, "x");
  const bool hutchinson = options.estimator == "hutchinson";
  if (hutchinson) check_probes(probes, x);

  // A batch larger than one pass: the same evaluation in the fewest passes of
  // at most rows_per_pass rows, their sizes differing by one at most (64 rows
  // at 36 a pass: two of 32; 10 at 4: 4, 3 and 3), each pass's graph freed
  // before the next.
  const int64_t batch = x.size(0);
  if (!create_graph && options.rows_per_pass > 0 && batch > options.rows_per_pass) {
    if (t.dim() != 1 || t.size(0) != batch) {
      throw InputError("likelihood: t has shape " + shape_of(t) + ", expected [" +
                       std::to_string(batch) + "] for x of shape " + shape_of(x));
    }
    const int64_t passes = (batch + options.rows_per_pass - 1) / options.rows_per_pass;
    DivergenceOptions one_pass = options;
    one_pass.rows_per_pass = 0;
    VelocityDivergence whole;
    for (int64_t pass = 0, begin = 0; pass < passes; ++pass) {
      const int64_t count = batch / passes + (pass < batch % passes ? 1 : 0);
      auto part =
          velocity_and_divergence(v, x.narrow(0, begin, count), t.narrow(0, begin, count), one_pass,
                                  hutchinson ? probes.narrow(1, begin, count) : probes,
                                  /*create_graph=*/false);
      if (!whole.v.defined()) {
        whole.v = torch::empty(x.sizes(), part.v.options());
        whole.div = torch::empty({batch}, part.div.options());
      }
      whole.v.narrow(0, begin, count).copy_(part.v);
      whole.div.narrow(0, begin, count).copy_(part.div);
      begin += count;
    }
    return whole;
  }

  // Grad mode on even under a caller's NoGradGuard: the divergence is a derivative.
  torch::AutoGradMode grad_on(true);
  torch::Tensor x_in = differentiable_input(x, create_graph);
  torch::Tensor out = v(x_in, t);
  if (!out.defined() || out.sizes() != x.sizes()) {
    throw InputError("likelihood: velocity returned shape " +
                     (out.defined() ? shape_of(out) : std::string("(none)")) + " for x of shape " +
                     shape_of(x) + "; it must match");
  }

  torch::Tensor div;
  if (!out.requires_grad()) {
    div = torch::zeros({x.size(0)}, out.options());  // v does not depend on x
  } else if (hutchinson) {
    div = hutchinson_divergence(out, x_in, probes, create_graph);
  } else {
    div = exact_divergence(out, x_in, create_graph);
  }
  if (create_graph) return {out, div};
  return {out.detach(), div.detach()};
}

}  // namespace likelihood

torch::Tensor divergence(const Velocity& v, const torch::Tensor& x, const torch::Tensor& t,
                         const DivergenceOptions& options, const torch::Tensor& probes,
                         bool create_graph) {
  likelihood::validate(options);
  return likelihood::velocity_and_divergence(v, x, t, options, probes, create_graph).div;
}

torch::Tensor draw_probes(const torch::Tensor& x, const DivergenceOptions& options,
                          at::Generator& generator) {
  likelihood::validate(options);
  likelihood::check_batch(x, "x");
  std::vector<int64_t> shape = {options.n_probes};
  for (int64_t d : x.sizes()) shape.push_back(d);

  // Drawn on the CPU generator (one stream whatever the device), then moved.
  const auto dtype = x.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  const auto cpu = torch::TensorOptions().dtype(dtype);
  torch::Tensor probes = options.probe == "gaussian"
                             ? torch::randn(shape, generator, cpu)
                             : torch::randint(0, 2, shape, generator, cpu) * 2.0 - 1.0;
  return probes.to(x.options());
}

}  // namespace fm
