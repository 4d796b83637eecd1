#include "fm/dist/process_group.h"

#include <spdlog/fmt/fmt.h>
#include <torch/version.h>

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef FM_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <cstdlib>
#include <functional>

#include "fm/common/error.h"

namespace fm {
namespace {

// NOTE: LibTorch 2.x split ProcessGroup into a front end and Backends; the
// Gloo and NCCL classes derive from ProcessGroup in 1.13 and from Backend in 2.x,
// with the same collective methods.
#if TORCH_VERSION_MAJOR >= 2
using BackendBase = c10d::Backend;
#else
using BackendBase = c10d::ProcessGroup;
#endif

std::string seconds_text(std::chrono::milliseconds t) {
  return fmt::format("{:g} s", t.count() / 1000.0);
}

// The message of an exception from c10d or Gloo, without LibTorch's backtrace.
std::string message_of(const std::exception& e) {
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&e)) {
    return c10_error->what_without_backtrace();
  }
  return e.what();
}

const char* env_value(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && value[0] != '\0' ? value : nullptr;
}

int parse_env_int(const char* name, int min, int max) {
  const char* text = env_value(name);
  char* end = nullptr;
  long value = std::strtol(text, &end, 10);
  if (*end != '\0' || value < min || value > max) {
    throw InputError(fmt::format(
        "dist: environment variable {}='{}' must be an integer in [{}, {}]", name, text, min, max));
  }
  return static_cast<int>(value);
}

bool is_loopback(const std::string& host) {
  return host.rfind("127.", 0) == 0 || host == "localhost" || host == "::1";
}

// torchrun's static rendezvous (its default) already hosts a TCPStore at
// MASTER_ADDR:MASTER_PORT in its agent and says so with this variable; then
// every rank is a client under a per-attempt prefix, as torch.distributed does.
bool use_agent_store() {
  const char* value = env_value("TORCHELASTIC_USE_AGENT_STORE");
  return value != nullptr && std::string(value) == "True";
}

c10::intrusive_ptr<c10d::Store> connect_store(const LaunchEnvironment& env,
                                              std::chrono::milliseconds timeout) {
  bool agent_store = use_agent_store();
  c10d::TCPStoreOptions options;
  options.port = static_cast<std::uint16_t>(env.master_port);
  options.isServer = env.rank == 0 && !agent_store;
  options.numWorkers = static_cast<std::size_t>(env.world_size);
  options.waitWorkers = true;
  options.timeout = timeout;
  options.multiTenant = true;
  try {
    c10::intrusive_ptr<c10d::Store> store =
        c10::make_intrusive<c10d::TCPStore>(env.master_addr, options);
    const char* attempt = env_value("TORCHELASTIC_RESTART_COUNT");
    std::string prefix =
        agent_store ? std::string("/worker/attempt_") + (attempt ? attempt : "0") : std::string();
    return c10::make_intrusive<c10d::PrefixStore>(prefix + "/flowmatch", store);
  } catch (const std::exception& e) {
    std::string where = env.master_addr + ":" + std::to_string(env.master_port);
    std::string task = options.isServer ? "host the rendezvous store at " + where
                                        : "reach the rendezvous store at " + where;
    throw RuntimeError(fmt::format(
        "dist: rank {} could not {} with all {} ranks within {} (is every rank started, with the "
        "same MASTER_ADDR, MASTER_PORT and WORLD_SIZE? raise --dist-timeout for slow starts): {}",
        env.rank, task, env.world_size, seconds_text(timeout), message_of(e)));
  }
}

std::shared_ptr<::gloo::transport::Device> make_gloo_device(const LaunchEnvironment& env) {
  // NOTE: a loopback rendezvous means one machine; binding Gloo to 127.0.0.1
  // keeps every byte on the loopback interface instead of the hostname's address.
  if (is_loopback(env.master_addr)) {
    return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  }
  if (const char* interface = env_value("GLOO_SOCKET_IFNAME")) {
    return c10d::ProcessGroupGloo::createDeviceForInterface(interface);
  }
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

c10::intrusive_ptr<BackendBase> make_backend(const c10::intrusive_ptr<c10d::Store>& store,
                                             const LaunchEnvironment& env,
                                             std::chrono::milliseconds timeout,
                                             torch::Device device) {
#ifdef FM_WITH_NCCL
  if (device.is_cuda()) {
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = timeout;
    return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, env.rank, env.world_size, options);
  }
#endif
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  options->devices.push_back(make_gloo_device(env));
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, env.rank, env.world_size, options);
}

// Consecutive runs of tensors of one dtype and device, each at most
// `bucket_bytes` large unless a single tensor is larger.
std::vector<std::vector<torch::Tensor>> make_buckets(const std::vector<torch::Tensor>& tensors,
                                                     int64_t bucket_bytes) {
  std::vector<std::vector<torch::Tensor>> buckets;
  int64_t bytes = 0;
  for (const auto& t : tensors) {
    int64_t size = t.numel() * static_cast<int64_t>(t.element_size());
    bool fits = !buckets.empty() && bytes + size <= bucket_bytes &&
                buckets.back().front().scalar_type() == t.scalar_type() &&
                buckets.back().front().device() == t.device();
    if (!fits) buckets.emplace_back(), bytes = 0;
    buckets.back().push_back(t);
    bytes += size;
  }
  return buckets;
}

torch::Tensor flatten(const std::vector<torch::Tensor>& bucket) {
  std::vector<torch::Tensor> flat;
  for (const auto& t : bucket) flat.push_back(t.reshape({-1}));
  return torch::cat(flat);
}

void copy_back(const torch::Tensor& flat, const std::vector<torch::Tensor>& bucket) {
  int64_t offset = 0;
  for (auto t : bucket) {
    t.copy_(flat.slice(0, offset, offset + t.numel()).view_as(t));
    offset += t.numel();
  }
}

}  // namespace

std::optional<LaunchEnvironment> read_launch_environment() {
  const char* names[] = {"RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"};
  bool any = false;
  std::string missing;
  for (const char* name : names) {
    bool set = env_value(name) != nullptr, optional = std::string(name) == "LOCAL_RANK";
    any = any || set;
    if (!set && !optional) missing += (missing.empty() ? "" : ", ") + std::string(name);
  }
  if (!any) return std::nullopt;
  if (!missing.empty()) {
    throw InputError(
        "dist: the launch environment is incomplete: " + missing +
        " not set; a multi-process run needs RANK, WORLD_SIZE, MASTER_ADDR and "
        "MASTER_PORT (torchrun and scripts/launch-local.sh set them), a single-process "
        "run none of them");
  }
  LaunchEnvironment env;
  env.world_size = parse_env_int("WORLD_SIZE", 1, 1 << 20);
  env.rank = parse_env_int("RANK", 0, env.world_size - 1);
  env.local_rank =
      env_value("LOCAL_RANK") ? parse_env_int("LOCAL_RANK", 0, env.world_size - 1) : env.rank;
  env.master_addr = env_value("MASTER_ADDR");
  env.master_port = parse_env_int("MASTER_PORT", 1, 65535);
  return env;
}

struct Distributed::Group {
  c10::intrusive_ptr<c10d::Store> store;  // declared first: outlives the backend
  c10::intrusive_ptr<BackendBase> backend;
  torch::Device device = torch::kCPU;  // where the backend's tensors must live
  int rank = 0, world_size = 1;
  std::chrono::milliseconds timeout{0};
  int64_t issued = 0;

  // `t` as a contiguous tensor on the backend's device (itself when it is one).
  torch::Tensor staged(const torch::Tensor& t) const { return t.to(device).contiguous(); }

  // Starts one collective and waits for it; a failure names `what` and this rank.
  void run(const std::string& what, const std::function<c10::intrusive_ptr<c10d::Work>()>& start) {
    ++issued;
    try {
      start()->wait();
    } catch (const std::exception& e) {
      throw RuntimeError(fmt::format(
          "dist: {} failed on rank {} of {}: another rank has died, or made no progress for the "
          "timeout of {} (--dist-timeout): {}",
          what, rank, world_size, seconds_text(timeout), message_of(e)));
    }
  }
};

Distributed Distributed::from_environment(std::chrono::milliseconds timeout, torch::Device device) {
  auto env = read_launch_environment();
  Distributed dist;
  dist.timeout_ = timeout;
  if (!env || env->world_size == 1) return dist;

  auto group = std::make_shared<Group>();
  group->rank = env->rank, group->world_size = env->world_size, group->timeout = timeout;
#ifdef FM_WITH_NCCL
  if (device.is_cuda()) group->device = device;
#endif
  group->store = connect_store(*env, timeout);
  try {
    group->backend = make_backend(group->store, *env, timeout, device);
  } catch (const std::exception& e) {
    throw RuntimeError(
        fmt::format("dist: rank {} of {} could not connect to its peers within {}: {}", env->rank,
                    env->world_size, seconds_text(timeout), message_of(e)));
  }
  dist.group_ = std::move(group);
  dist.rank_ = env->rank, dist.world_size_ = env->world_size, dist.local_rank_ = env->local_rank;
  return dist;
}

const Distributed& Distributed::single_process() {
  static const Distributed single;
  return single;
}

void Distributed::broadcast_parameters(torch::nn::Module& module) const {
  if (!group_) return;
  torch::NoGradGuard no_grad;
  auto tensors = module.parameters();
  for (const auto& b : module.buffers()) tensors.push_back(b);
  auto buckets = make_buckets(tensors, kDefaultBucketBytes);
  for (size_t i = 0; i < buckets.size(); ++i) {
    std::vector<torch::Tensor> flat{group_->staged(flatten(buckets[i]))};
    c10d::BroadcastOptions options;
    options.rootRank = 0;
    group_->run(fmt::format("broadcast_parameters (bucket {} of {})", i + 1, buckets.size()),
                [&] { return group_->backend->broadcast(flat, options); });
    copy_back(flat[0], buckets[i]);
  }
}

void Distributed::all_reduce_gradients(const std::vector<torch::Tensor>& parameters,
                                       int64_t bucket_bytes) const {
  if (!group_) return;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  for (const auto& p : parameters) {
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    grads.push_back(p.grad());
  }
  auto buckets = make_buckets(grads, bucket_bytes);
  for (size_t i = 0; i < buckets.size(); ++i) {
    std::vector<torch::Tensor> flat{group_->staged(flatten(buckets[i]))};
    group_->run(fmt::format("all_reduce_gradients (bucket {} of {}, {} values)", i + 1,
                            buckets.size(), flat[0].numel()),
                [&] { return group_->backend->allreduce(flat); });
    flat[0].div_(world_size_);
    copy_back(flat[0], buckets[i]);
  }
}

void Distributed::all_reduce_sum(torch::Tensor& tensor) const {
  if (!group_) return;
  std::vector<torch::Tensor> tensors{group_->staged(tensor)};
  group_->run(fmt::format("all_reduce_sum ({} values)", tensor.numel()),
              [&] { return group_->backend->allreduce(tensors); });
  if (!tensors[0].is_same(tensor)) tensor.copy_(tensors[0]);
}

torch::Tensor Distributed::all_gather(const torch::Tensor& tensor) const {
  if (!group_) return tensor.unsqueeze(0);
  std::vector<torch::Tensor> inputs{group_->staged(tensor)};
  std::vector<std::vector<torch::Tensor>> outputs(1);
  for (int r = 0; r < world_size_; ++r) outputs[0].push_back(torch::empty_like(inputs[0]));
  group_->run(fmt::format("all_gather ({} values)", tensor.numel()),
              [&] { return group_->backend->allgather(outputs, inputs); });
  return torch::stack(outputs[0]).to(tensor.device());
}

double Distributed::broadcast_from_main(double value) const {
  if (!group_) return value;
  std::vector<torch::Tensor> tensors{group_->staged(torch::full({1}, value, torch::kFloat64))};
  c10d::BroadcastOptions options;
  options.rootRank = 0;
  group_->run("broadcast_from_main", [&] { return group_->backend->broadcast(tensors, options); });
  return tensors[0].item<double>();
}

void Distributed::barrier() const {
  if (!group_) return;
  group_->run("barrier", [&] { return group_->backend->barrier(); });
}

int64_t Distributed::collectives_issued() const { return group_ ? group_->issued : 0; }

}  // namespace fm
