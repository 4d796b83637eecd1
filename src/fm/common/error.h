// Error types shared by the whole library.
//
// The library reports failures by throwing; programs catch in main() and map
// InputError to exit code 2 (bad usage, config or input file) and every other
// exception to exit code 1 (runtime failure). Messages name the component and
// the file, key or row at fault, the value found and what was required, e.g.
//   "config: key 'train.lr' = -1 must be > 0".
#pragma once

#include <stdexcept>
#include <string>

namespace fm {

// Bad usage, bad config or bad input file: the user can fix it (exit code 2).
class InputError : public std::runtime_error {
 public:
  explicit InputError(const std::string& what) : std::runtime_error(what) {}
};

// A failure while running: non-finite state, solver step cap, I/O failure (exit code 1).
class RuntimeError : public std::runtime_error {
 public:
  explicit RuntimeError(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace fm
