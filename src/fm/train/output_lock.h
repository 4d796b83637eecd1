// An advisory lock on a run's output folder, so two fm-train processes never
// write the same checkpoints and metrics at once.
#pragma once

#include <string>

namespace fm {

class OutputLock {
 public:
  OutputLock() = default;
  // Creates `dir` and takes an exclusive lock on `dir/.lock`; throws
  // InputError naming the folder if another process holds it or it cannot be
  // created. A folder this lock created and in which nothing but the lock
  // file was written (the run failed while setting up) is removed again when
  // the lock is released.
  explicit OutputLock(const std::string& dir);
  OutputLock(OutputLock&& other) noexcept;
  OutputLock& operator=(OutputLock&& other) noexcept;
  ~OutputLock();

 private:
  int fd_ = -1;
  std::string dir_;           // set when this lock created the folder
};

}  // namespace fm
