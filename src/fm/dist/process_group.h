// Multi-process runs on LibTorch's c10d (DESIGN: Scale-out).
//
// N cooperating processes find each other through the variables torchrun sets:
//   RANK         this process, 0 <= RANK < WORLD_SIZE
//   WORLD_SIZE   number of processes
//   LOCAL_RANK   this process among those on its machine (default: RANK)
//   MASTER_ADDR  host of rank 0, which hosts c10d's TCPStore for the rendezvous
//   MASTER_PORT  the store's port
// With none of them set, or WORLD_SIZE=1, a run is single-process: no process
// group exists and every collective below returns at once, leaving its
// arguments untouched. The collectives run on ProcessGroupGloo (CPU tensors),
// or on ProcessGroupNCCL for CUDA tensors in builds with FM_WITH_NCCL.
//
// Every collective must be called by all ranks in the same order with tensors
// of the same shapes and dtypes. A collective that cannot complete within the
// timeout (a peer died, hangs or cannot be reached) throws RuntimeError naming
// the operation and this rank; nothing waits forever.
//
// Networking: when MASTER_ADDR is a loopback address (127.x.x.x, localhost,
// ::1), Gloo binds to 127.0.0.1 only. Otherwise it binds to the interface named
// by GLOO_SOCKET_IFNAME, else to the address of this host's name (as torchrun).
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace fm {

// The torchrun variables of a multi-process launch.
struct LaunchEnvironment {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr;
  int master_port = 0;
};

// Reads the variables above. Returns nullopt when none is set; throws
// InputError naming the missing variables when only some are set, or the
// variable and its value when one is malformed (not an integer, RANK outside
// [0, WORLD_SIZE), port outside 1..65535).
std::optional<LaunchEnvironment> read_launch_environment();

class Distributed {
 public:
  // Gradient buckets of ~25 MB, as PyTorch's DistributedDataParallel.
  static constexpr int64_t kDefaultBucketBytes = 25 << 20;
  static constexpr std::chrono::seconds kDefaultTimeout{300};

  // Joins the process group described by the environment (read_launch_environment),
  // or returns a single-process context when there is none. Rank 0 hosts the
  // TCPStore; every rank waits at most `timeout` for the others to arrive, and
  // every later collective fails after `timeout` without progress. `device`
  // picks the backend (CUDA: NCCL where built with it; otherwise Gloo).
  // Throws InputError for a bad environment, RuntimeError when the rendezvous
  // fails (store unreachable, peers missing, port taken).
  static Distributed from_environment(std::chrono::milliseconds timeout = kDefaultTimeout,
                                      torch::Device device = torch::kCPU);

  // A context for one process (rank 0 of 1); collectives are no-ops.
  static const Distributed& single_process();

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  int local_rank() const { return local_rank_; }
  bool is_main() const { return rank_ == 0; }
  bool is_distributed() const { return world_size_ > 1; }

  // Copies rank 0's parameters and buffers into every rank's `module` (same
  // architecture on every rank), so that all ranks start from identical weights.
  void broadcast_parameters(torch::nn::Module& module) const;

  // Replaces each parameter's gradient by its mean over the ranks. Gradients are
  // flattened into buckets of at most `bucket_bytes` (a larger tensor gets a
  // bucket of its own) with one all-reduce per bucket. A parameter without a
  // gradient gets a zero one first, so every rank sends the same layout.
  void all_reduce_gradients(const std::vector<torch::Tensor>& parameters,
                            int64_t bucket_bytes = kDefaultBucketBytes) const;

  // In place: `tensor` (contiguous, any shape) becomes the element-wise sum over ranks.
  void all_reduce_sum(torch::Tensor& tensor) const;

  // Every rank's `tensor` (same shape on all ranks), stacked: (world_size, ...).
  // Single-process: tensor.unsqueeze(0).
  torch::Tensor all_gather(const torch::Tensor& tensor) const;

  // Rank 0's `value` on every rank, so that decisions taken on it (save a
  // checkpoint, stop) are the same everywhere.
  double broadcast_from_main(double value) const;

  // Returns once every rank has called it.
  void barrier() const;

  // Collective calls issued so far by this rank (each bucket counts one); lets
  // tests check the bucketing.
  int64_t collectives_issued() const;

  std::chrono::milliseconds timeout() const { return timeout_; }

 private:
  struct Group;
  std::shared_ptr<Group> group_;  // null in single-process runs
  int rank_ = 0;
  int world_size_ = 1;
  int local_rank_ = 0;
  std::chrono::milliseconds timeout_{kDefaultTimeout};
};

}  // namespace fm
