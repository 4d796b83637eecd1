#include "fm/io/atomic_file.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "fm/common/error.h"

namespace fm {
namespace {

namespace fs = std::filesystem;

// A name no concurrent writer in this or another process will pick: the
// process id separates processes, the counter separates threads.
fs::path temporary_name(const fs::path& target) {
  static std::atomic<uint64_t> counter{0};
  std::ostringstream name;
  name << "." << target.filename().string() << ".tmp." << ::getpid() << "." << counter++;
  return target.parent_path() / name.str();
}

// Creates the folders above `target` (none: nothing to do).
void create_parent_directories(const fs::path& target) {
  const fs::path parent = target.parent_path();
  if (parent.empty()) return;
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (!ec && !fs::is_directory(parent)) ec = std::make_error_code(std::errc::not_a_directory);
  if (ec) {
    throw RuntimeError("io: cannot create directory '" + parent.string() + "' for '" +
                       target.string() + "': " + ec.message());
  }
}

// Makes the missing folders above `target` (below `existing`) and the
// temporary file write_atomically() will use, then removes all of them: the
// only sure test that the file can be written there (a write-permission check
// passes for root in /proc, and says nothing of over-long names). Throws
// InputError starting with `name` if any step fails.
void probe_output_location(const fs::path& target, const fs::path& existing,
                           const std::string& name) {
  std::vector<fs::path> missing;  // deepest first
  for (fs::path p = target.parent_path(); !p.empty() && p != existing; p = p.parent_path()) {
    missing.push_back(p);
  }
  std::vector<fs::path> made;
  std::string problem;
  for (auto it = missing.rbegin(); it != missing.rend() && problem.empty(); ++it) {
    std::error_code ec;
    if (fs::create_directory(*it, ec)) {
      made.push_back(*it);
    } else if (ec) {
      problem = "cannot create its folder '" + it->string() + "': " + ec.message();
    }
  }
  if (problem.empty()) {
    const fs::path probe = temporary_name(target);
    std::ofstream out(probe, std::ios::binary);
    if (!out) problem = "cannot create a file there: " + std::string(std::strerror(errno));
    out.close();
    std::error_code ignored;
    fs::remove(probe, ignored);
  }
  for (auto it = made.rbegin(); it != made.rend(); ++it) {
    std::error_code ignored;
    fs::remove(*it, ignored);
  }
  if (!problem.empty()) throw InputError(name + " '" + target.string() + "': " + problem);
}

}  // namespace

void write_atomically(const std::string& path,
                      const std::function<void(const std::string&)>& write) {
  const fs::path target(path);
  if (target.filename().empty()) {
    throw InputError("io: output path '" + path + "' names a directory, expected a file");
  }
  create_parent_directories(target);
  const fs::path tmp = temporary_name(target);

  std::error_code ec;
  try {
    write(tmp.string());
  } catch (...) {
    fs::remove(tmp, ec);  // best effort: the writer's exception is the one worth reporting
    throw;
  }

  // rename() within one directory is atomic on POSIX: readers see the old file or the new one.
  fs::rename(tmp, target, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw RuntimeError("io: cannot rename '" + tmp.string() + "' to '" + path +
                       "': " + ec.message());
  }
}

void prepare_output_file(const std::string& path, const std::string& name) {
  const fs::path target(path);
  std::error_code ec;
  if (target.filename().empty() || fs::is_directory(target, ec)) {
    throw InputError(name + " '" + path + "' is a folder; give a file name");
  }
  // The missing folders are made when the file is written, so that a run
  // that fails before then leaves none behind. A file where a folder should
  // be is named as such; permissions and everything else the probe finds out.
  fs::path existing = target.parent_path();
  while (!existing.empty() && !fs::exists(existing, ec)) existing = existing.parent_path();
  if (existing.empty()) existing = ".";
  if (!fs::is_directory(existing, ec)) {
    throw InputError(name + " '" + path + "': cannot create its folder '" +
                     target.parent_path().string() + "': '" + existing.string() +
                     "' is not a folder");
  }
  probe_output_location(target, existing, name);
}

void write_text_atomically(const std::string& path, const std::string& contents) {
  write_atomically(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) {
      throw RuntimeError("io: cannot open '" + tmp + "' for writing: " + std::strerror(errno));
    }
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    out.close();
    if (!out) throw RuntimeError("io: writing '" + tmp + "' failed (disk full?)");
  });
}

std::string read_text_file(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    throw InputError("io: cannot read file '" + path + "': it is a directory");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw InputError("io: cannot read file '" + path + "': " + std::strerror(errno));
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) throw InputError("io: reading file '" + path + "' failed");
  return contents.str();
}

}  // namespace fm
