// Atomic file output: write to a temporary name beside the target, then rename,
// so that a failed run never leaves a half-written file under the final name.
#pragma once

#include <functional>
#include <string>

namespace fm {

// Calls write(tmp_path) where tmp_path is in the same directory as `path`, then
// renames tmp_path to `path` (creating parent directories first). If `write`
// throws, the temporary file is removed and the exception propagates.
void write_atomically(const std::string& path, const std::function<void(const std::string&)>& write);

// Checks an output file's path before a program does its work, so that a long
// solve is not lost at the end: throws InputError starting with `name` (the
// flag or key that gave the path) if the path is a folder, its missing
// parent folders could not be created (a parent is a file, the nearest
// existing one is not writable, a name is too long, ...), or no file can be
// created where it goes. Tries both, then removes what it made, so it leaves
// nothing behind: write_atomically() makes the folders when the file is
// written.
void prepare_output_file(const std::string& path, const std::string& name);

// Writes `contents` to `path` atomically.
void write_text_atomically(const std::string& path, const std::string& contents);

// Reads a whole file; throws InputError naming the file if it cannot be read.
std::string read_text_file(const std::string& path);

}  // namespace fm
