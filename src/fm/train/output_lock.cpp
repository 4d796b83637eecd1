#include "fm/train/output_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <utility>

#include "fm/common/error.h"

namespace fm {

OutputLock::OutputLock(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) dir_ = dir;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir)) {
    throw InputError("train: cannot create the output folder '" + dir + "' (--out)" +
                     (ec ? ": " + ec.message() : ": a file of that name exists"));
  }
  auto path = (std::filesystem::path(dir) / ".lock").string();
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw InputError("train: cannot create '" + path + "'");
  // The kernel drops the lock when the process ends, however it ends.
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd_);
    fd_ = -1;
    throw InputError("train: another fm-train is writing to '" + dir +
                     "'; wait for it or choose another --out");
  }
}

OutputLock::OutputLock(OutputLock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), dir_(std::exchange(other.dir_, {})) {}

OutputLock& OutputLock::operator=(OutputLock&& other) noexcept {
  std::swap(fd_, other.fd_);
  std::swap(dir_, other.dir_);
  return *this;
}

OutputLock::~OutputLock() {
  if (fd_ < 0) return;
  if (!dir_.empty()) {
    // Only the lock file in a folder this lock made: the run wrote nothing.
    namespace fs = std::filesystem;
    std::error_code ec;
    bool only_lock = true;
    for (const auto& entry : fs::directory_iterator(dir_, ec)) {
      if (entry.path().filename() != ".lock") only_lock = false;
    }
    if (!ec && only_lock) {
      fs::remove(fs::path(dir_) / ".lock", ec);
      fs::remove(dir_, ec);
    }
  }
  ::close(fd_);
}

}  // namespace fm
