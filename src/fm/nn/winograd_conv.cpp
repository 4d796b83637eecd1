#include "fm/nn/winograd_conv.h"

#include <atomic>
#include <variant>

#ifdef FM_WITH_DNNL_CONV
#include <oneapi/dnnl/dnnl.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <unordered_map>
#endif

namespace fm::nn_detail {
namespace {

std::atomic<bool> g_enabled{true};

bool is_float_cpu_3x3(const torch::Tensor& x, const torch::Tensor& weight) {
  return x.defined() && weight.defined() && x.layout() == torch::kStrided &&
         weight.layout() == torch::kStrided && x.device().is_cpu() && weight.device().is_cpu() &&
         x.scalar_type() == torch::kFloat && weight.scalar_type() == torch::kFloat &&
         x.dim() == 4 && weight.dim() == 4 && weight.size(1) == x.size(1) &&
         weight.size(2) == 3 && weight.size(3) == 3 && x.numel() > 0;
}

// 3x3, stride 1, padding 1, no dilation, one group, zero padding: what the
// kernels compute. LibTorch 1.x holds the padding in a c10::variant, 2.x in a
// std::variant: the unqualified get_if finds the right one by argument-
// dependent lookup.
bool is_same_size_3x3(const torch::nn::Conv2dImpl& conv) {
  using std::get_if;
  const auto& o = conv.options;
  const auto* padding = get_if<torch::ExpandingArray<2>>(&o.padding());
  return (*o.kernel_size())[0] == 3 && (*o.kernel_size())[1] == 3 && (*o.stride())[0] == 1 &&
         (*o.stride())[1] == 1 && padding != nullptr && (**padding)[0] == 1 &&
         (**padding)[1] == 1 && (*o.dilation())[0] == 1 && (*o.dilation())[1] == 1 &&
         o.groups() == 1 && !o.transposed() &&
         torch::enumtype::get_enum_name(o.padding_mode()) == "kZeros";
}

}  // namespace

void set_winograd_conv_enabled(bool enabled) { g_enabled = enabled; }
bool winograd_conv_enabled() { return g_enabled; }

torch::Tensor conv2d(torch::nn::Conv2dImpl& conv, const torch::Tensor& x) {
  if (is_same_size_3x3(conv) && winograd_conv_applies(x, conv.weight)) {
    return winograd_conv3x3(x, conv.weight, conv.bias);
  }
  return conv.forward(x);
}

#ifndef FM_WITH_DNNL_CONV

bool winograd_conv_built() { return false; }

bool winograd_conv_applies(const torch::Tensor&, const torch::Tensor&) { return false; }

torch::Tensor winograd_conv3x3(const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias) {
  return torch::conv2d(x, weight, bias, /*stride=*/1, /*padding=*/1);
}

#else

namespace {

using dnnl::memory;
using Tag = memory::format_tag;
constexpr auto kF32 = memory::data_type::f32;

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& cpu_stream() {
  thread_local dnnl::stream stream(cpu_engine());
  return stream;
}

// The primitives for one shape (batch, in and out channels, height, width),
// made once: oneDNN generates their kernels when they are created. Always
// with a bias; calls without one pass zeros. Calls without autograd use the
// training primitive too: the inference one wants the weights transformed
// into Winograd's domain beforehand, by a reorder that took half the time of
// a sampling step (the weights cannot be cached: FusedAdam rewrites them in
// place without bumping their version). The backward primitives are made on
// first use: sampling needs none.
struct Plan {
  dnnl::convolution_forward::primitive_desc forward_pd;
  dnnl::convolution_forward forward;
  dnnl::convolution_backward_data::primitive_desc data_pd;
  dnnl::convolution_backward_weights::primitive_desc weights_pd;

  const dnnl::convolution_backward_data& data() {
    std::call_once(data_made_, [this] { data_ = dnnl::convolution_backward_data(data_pd); });
    return data_;
  }
  const dnnl::convolution_backward_weights& weights() {
    std::call_once(weights_made_,
                   [this] { weights_ = dnnl::convolution_backward_weights(weights_pd); });
    return weights_;
  }

 private:
  std::once_flag data_made_, weights_made_;
  dnnl::convolution_backward_data data_;
  dnnl::convolution_backward_weights weights_;
};

using Shape = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t>;

std::unique_ptr<Plan> make_plan(const Shape& shape) {
  const auto [n, c, o, h, w] = shape;
  const memory::dims strides{1, 1}, padding{1, 1};
  const memory::desc src({n, c, h, w}, kF32, Tag::any), weights({o, c, 3, 3}, kF32, Tag::any),
      bias({o}, kF32, Tag::a), dst({n, o, h, w}, kF32, Tag::any);
  const auto alg = dnnl::algorithm::convolution_winograd;
  // Working memory (the transformed tiles, 7-10 MB a primitive) is passed
  // in from the per-thread workspace below, one buffer for all primitives.
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  auto plan = std::make_unique<Plan>();
  auto& engine = cpu_engine();
  plan->forward_pd = {{dnnl::prop_kind::forward_training, alg, src, weights, bias, dst, strides,
                       padding, padding},
                      attr,
                      engine};
  plan->data_pd = {
      {alg, src, weights, dst, strides, padding, padding}, attr, engine, plan->forward_pd};
  plan->weights_pd = {{alg, src, weights, bias, dst, strides, padding, padding},
                      attr,
                      engine,
                      plan->forward_pd};
  plan->forward = dnnl::convolution_forward(plan->forward_pd);
  return plan;
}

// The plan for x's and weight's shapes (one per batch size too), or nullptr
// where oneDNN has no Winograd kernels for them on this CPU (remembered, as
// is a plan) or failed to make them (not remembered: may be passing).
Plan* plan_for(const torch::Tensor& x, const torch::Tensor& weight) {
  cpu_engine();  // made before the plans, so that it outlives them at exit
  static std::mutex mutex;
  static std::map<Shape, std::unique_ptr<Plan>> plans;
  const Shape shape{x.size(0), x.size(1), weight.size(0), x.size(2), x.size(3)};
  std::lock_guard<std::mutex> lock(mutex);
  auto found = plans.find(shape);
  if (found == plans.end()) {
    std::unique_ptr<Plan> plan;
    try {
      plan = make_plan(shape);
    } catch (const dnnl::error& e) {
      if (e.status != dnnl_unimplemented) return nullptr;
    }
    found = plans.emplace(shape, std::move(plan)).first;
  }
  return found->second.get();
}

// A oneDNN view of a float32 CPU tensor's memory, in the tensor's own strides.
memory view_of(const torch::Tensor& t) {
  const memory::dims dims(t.sizes().begin(), t.sizes().end());
  const memory::dims strides(t.strides().begin(), t.strides().end());
  return memory(memory::desc(dims, kF32, strides), cpu_engine(), t.data_ptr());
}

// Buffers reused by every call on a thread, grown to the largest size asked
// for: the blocked copy of a convolution's input (or of its output's
// gradient), that of its output (or of the input's gradient), the weights in
// the kernels' layout, and oneDNN's working memory. Fresh buffers on every
// call raised fmnist training's peak memory by ~150 MB over LibTorch's
// convolutions; these buffers (~50 MB at batch 64) bring that to ~100 MB.
struct Workspace {
  torch::Tensor input, output, weights, scratch;
};

Workspace& workspace() {
  thread_local Workspace buffers;
  return buffers;
}

// A buffer of layout `desc` in `slot`, grown when too small.
memory buffer(const memory::desc& desc, torch::Tensor& slot) {
  const auto floats = static_cast<int64_t>((desc.get_size() + sizeof(float) - 1) / sizeof(float));
  if (!slot.defined() || slot.numel() < floats) {
    slot = torch::Tensor();  // free the old one first
    slot = torch::empty({std::max<int64_t>(floats, 1)}, torch::kFloat);
  }
  return memory(desc, cpu_engine(), slot.data_ptr());
}

// `source` in layout `desc`: itself where it already is, else a copy in `slot`.
memory in_layout(memory source, const memory::desc& desc, torch::Tensor& slot) {
  if (source.get_desc() == desc) return source;
  memory copy = buffer(desc, slot);
  dnnl::reorder(source, copy).execute(cpu_stream(), source, copy);
  return copy;
}

// Where a primitive writes a result that belongs in `target`: target itself
// when the layouts agree, else `slot`, which copy_back() moves into it.
memory result_buffer(const memory& target, const memory::desc& desc, torch::Tensor& slot) {
  return target.get_desc() == desc ? target : buffer(desc, slot);
}

// (oneDNN memories are handles: copies share the data.)
void copy_back(memory result, memory target) {
  if (result.get_data_handle() != target.get_data_handle()) {
    dnnl::reorder(result, target).execute(cpu_stream(), result, target);
  }
}

// x's own memory format for a result of x's shape family.
torch::Tensor empty_like_layout(const torch::Tensor& x, torch::IntArrayRef sizes) {
  return torch::empty(sizes, x.options().memory_format(x.suggest_memory_format()));
}

torch::Tensor bias_or_zeros(const torch::Tensor& bias, int64_t channels) {
  return bias.defined() ? bias.contiguous() : torch::zeros({channels}, torch::kFloat);
}

torch::Tensor forward(const Plan& plan, const torch::Tensor& x, const torch::Tensor& weight,
                      const torch::Tensor& bias) {
  const auto& pd = plan.forward_pd;
  auto& ws = workspace();
  auto out = empty_like_layout(x, {x.size(0), weight.size(0), x.size(2), x.size(3)});
  const auto b = bias_or_zeros(bias, weight.size(0));
  const memory out_view = view_of(out);
  const memory dst = result_buffer(out_view, pd.dst_desc(), ws.output);
  plan.forward.execute(cpu_stream(),
                       {{DNNL_ARG_SRC, in_layout(view_of(x), pd.src_desc(), ws.input)},
                        {DNNL_ARG_WEIGHTS, in_layout(view_of(weight), pd.weights_desc(), ws.weights)},
                        {DNNL_ARG_BIAS, view_of(b)},
                        {DNNL_ARG_DST, dst},
                        {DNNL_ARG_SCRATCHPAD, buffer(pd.scratchpad_desc(), ws.scratch)}});
  copy_back(dst, out_view);
  cpu_stream().wait();
  return out;
}

// The input and parameter gradients the flags ask for (others undefined).
// The output's gradient in blocked layout stays in the workspace's input
// slot for both passes; the other slots are reused by the second pass.
torch::autograd::variable_list backward(Plan& plan, const torch::Tensor& grad_out,
                                        const torch::Tensor& x, const torch::Tensor& weight,
                                        bool input_grad, bool weight_grad, bool bias_grad) {
  auto& ws = workspace();
  torch::Tensor grad_x, grad_w, grad_b;
  const memory grad_view = view_of(grad_out);
  memory diff_dst;
  if (input_grad) {
    const auto& pd = plan.data_pd;
    diff_dst = in_layout(grad_view, pd.diff_dst_desc(), ws.input);
    grad_x = empty_like_layout(x, x.sizes());
    const memory grad_x_view = view_of(grad_x);
    const memory diff_src = result_buffer(grad_x_view, pd.diff_src_desc(), ws.output);
    plan.data().execute(
        cpu_stream(),
        {{DNNL_ARG_DIFF_DST, diff_dst},
         {DNNL_ARG_WEIGHTS, in_layout(view_of(weight), pd.weights_desc(), ws.weights)},
         {DNNL_ARG_DIFF_SRC, diff_src},
         {DNNL_ARG_SCRATCHPAD, buffer(pd.scratchpad_desc(), ws.scratch)}});
    copy_back(diff_src, grad_x_view);
  }
  if (weight_grad || bias_grad) {
    const auto& pd = plan.weights_pd;
    if (!diff_dst || diff_dst.get_desc() != pd.diff_dst_desc()) {
      diff_dst = in_layout(grad_view, pd.diff_dst_desc(), ws.input);
    }
    grad_w = torch::empty(weight.sizes(), weight.options());
    grad_b = torch::empty({weight.size(0)}, weight.options());
    const memory grad_w_view = view_of(grad_w);
    const memory diff_weights = result_buffer(grad_w_view, pd.diff_weights_desc(), ws.weights);
    plan.weights().execute(cpu_stream(),
                           {{DNNL_ARG_SRC, in_layout(view_of(x), pd.src_desc(), ws.output)},
                            {DNNL_ARG_DIFF_DST, diff_dst},
                            {DNNL_ARG_DIFF_WEIGHTS, diff_weights},
                            {DNNL_ARG_DIFF_BIAS, view_of(grad_b)},
                            {DNNL_ARG_SCRATCHPAD, buffer(pd.scratchpad_desc(), ws.scratch)}});
    copy_back(diff_weights, grad_w_view);
    if (!weight_grad) grad_w = torch::Tensor();
    if (!bias_grad) grad_b = torch::Tensor();
  }
  cpu_stream().wait();
  return {grad_x, grad_w, grad_b};
}

struct WinogradConvFunction : torch::autograd::Function<WinogradConvFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& bias) {
    ctx->save_for_backward({x, weight, bias});
    return nn_detail::forward(*plan_for(x, weight), x, weight, bias);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &weight = saved[1], &bias = saved[2];
    const bool input_grad = ctx->needs_input_grad(0), weight_grad = ctx->needs_input_grad(1),
               bias_grad = bias.defined() && ctx->needs_input_grad(2);
    if (!grads[0].defined()) return {torch::Tensor(), torch::Tensor(), torch::Tensor()};
    const auto grad_out = grads[0].contiguous(x.suggest_memory_format());
    if (torch::GradMode::is_enabled()) {
      // create_graph: LibTorch's backward is itself differentiable.
      const std::vector<int64_t> bias_sizes{weight.size(0)};
      auto [gx, gw, gb] = at::convolution_backward(
          grad_out, x, weight, bias.defined() ? c10::optional<at::IntArrayRef>(bias_sizes)
                                              : c10::nullopt,
          {1, 1}, {1, 1}, {1, 1}, /*transposed=*/false, {0, 0}, /*groups=*/1,
          {input_grad, weight_grad, bias_grad});
      return {gx, gw, gb};
    }
    return nn_detail::backward(*plan_for(x, weight), grad_out, x, weight, input_grad,
                               weight_grad, bias_grad);
  }
};

}  // namespace

bool winograd_conv_built() { return true; }

bool winograd_conv_applies(const torch::Tensor& x, const torch::Tensor& weight) {
  return g_enabled && is_float_cpu_3x3(x, weight) && plan_for(x, weight) != nullptr;
}

torch::Tensor winograd_conv3x3(const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias) {
  TORCH_CHECK(winograd_conv_applies(x, weight), "winograd_conv3x3: shapes or types not supported");
  TORCH_CHECK(!bias.defined() || (bias.layout() == torch::kStrided && bias.device().is_cpu() &&
                                  bias.scalar_type() == torch::kFloat && bias.dim() == 1 &&
                                  bias.size(0) == weight.size(0)),
              "winograd_conv3x3: bias must be a float32 CPU tensor of ", weight.size(0),
              " values");
  // The kernels read the tensors through their strides, but grad outputs
  // and odd views are cheaper to reorder from a dense layout.
  const auto input = x.contiguous(x.suggest_memory_format());
  const bool records = torch::GradMode::is_enabled() &&
                       (x.requires_grad() || weight.requires_grad() ||
                        (bias.defined() && bias.requires_grad()));
  if (!records) return forward(*plan_for(input, weight), input, weight, bias);
  // Function::apply takes defined tensors only: no bias is a zero bias that
  // needs no gradient.
  return WinogradConvFunction::apply(input, weight,
                                     bias.defined() ? bias : torch::zeros({weight.size(0)}));
}

#endif  // FM_WITH_DNNL_CONV

}  // namespace fm::nn_detail
