// Sets LibTorch's intra-op thread count for one scope and restores it, also
// when a failed assertion leaves the test early.
#pragma once

#include <torch/torch.h>

namespace fm::test_support {

class ThreadCount {
 public:
  explicit ThreadCount(int n) : before_(torch::get_num_threads()) { torch::set_num_threads(n); }
  ~ThreadCount() { torch::set_num_threads(before_); }
  ThreadCount(const ThreadCount&) = delete;
  ThreadCount& operator=(const ThreadCount&) = delete;

 private:
  int before_;
};

}  // namespace fm::test_support
