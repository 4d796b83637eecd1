// What the four programs share: common flags, logging and thread set-up, the
// BLAS report, and the mapping from exceptions to exit codes.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fm/common/error.h"
#include "fm/dist/process_group.h"

namespace fm::app {

struct CommonFlags {
  std::vector<std::string> overrides;  // --set key.path=value, in order
  int threads = 0;                     // --threads; 0 = all cores
  std::string device;                  // --device cpu|cuda; empty = the config's
  std::string log_level = "info";      // --log-level
};

// Adds --threads and --log-level to `app`, and for programs that read a
// config also --set (its help showing `set_example`, a key of that program)
// and --device; an empty `set_example` means the program reads no config.
void add_common_flags(CLI::App& app, CommonFlags& flags, const std::string& set_example);

// Applies the log level and thread count, then logs the LibTorch version,
// threads and BLAS in use (warning when the reference BLAS is loaded).
void set_up_runtime(const std::string& program, const CommonFlags& flags);

// Flags of the programs that can run as several cooperating processes.
struct DistFlags {
  double timeout_s = 300;  // --dist-timeout: rendezvous and collective timeout
};

// Adds --dist-timeout to `app`.
void add_dist_flags(CLI::App& app, DistFlags& flags);

// Joins the process group of a torchrun-style launch (RANK, WORLD_SIZE, ...;
// single-process when none is set) for tensors on `device`, logs the world size
// on rank 0, and lowers the log level of ranks > 0 to warnings unless
// --log-level asked for more than info.
Distributed start_distributed(const DistFlags& flags, const CommonFlags& common,
                              const std::string& device);

// Applies --set overrides and --device to a config.
void apply_common_overrides(nlohmann::json& config, const CommonFlags& flags);

// Where a run's config keys came from, for error messages: the config's
// origin ("config 'run.json'", "config of checkpoint 'x.pt'"), then each
// command-line setting of a key in order: {key path, what the user typed}.
struct ConfigSources {
  std::string origin;
  std::vector<std::pair<std::string, std::string>> settings;
};

// The sources of a config from `origin`, --set and --device, and the flags of
// `app` that set a config key ({"--split", "eval.split"}, ...) that were given.
ConfigSources config_sources(
    const std::string& origin, const CommonFlags& flags, const CLI::App& app,
    const std::vector<std::pair<std::string, std::string>>& flag_keys = {});

// naming_config_source()'s re-throw: `e` as it is when it is no config error.
[[noreturn]] void rethrow_naming_config_source(const InputError& e, const ConfigSources& sources);

// Returns read(), which reads config keys. A config error it throws (an
// InputError whose message starts "config: " or "model: ") is thrown again
// naming where the key came from: the command-line setting of that key, else
// the origin together with the settings of the same section, if any:
//   --set model.hidden=wide: key 'model.hidden' = "wide" must be an integer
//   config 'run.json' with --set model.channels=12: key 'model.groups' = 8 ...
template <typename Read>
auto naming_config_source(const ConfigSources& sources, Read&& read) -> decltype(read()) {
  try {
    return read();
  } catch (const InputError& e) {
    rethrow_naming_config_source(e, sources);
  }
}

// Parses argv with `app`, then runs `body`. Exit codes: 0 success (and --help),
// 2 bad usage, bad config or bad input (CLI errors, fm::InputError), 1 any other
// failure. Errors print as "<program>: error: <message>" on stderr.
int run_program(CLI::App& app, int argc, char** argv, const std::function<void()>& body);

// Flag checks with short messages ("must be > 0, got -1"); CLI11's own range
// checks print the whole range of a double.
CLI::Validator positive_number();
CLI::Validator non_negative_number();

// The output path's extension, lower-case, without the dot ("" if none).
std::string extension_of(const std::string& path);

}  // namespace fm::app
