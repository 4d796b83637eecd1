#include "common/program.h"

#include <dlfcn.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "fm/common/error.h"
#include "fm/common/memory.h"
#include "fm/config/load.h"

namespace fm::app {
namespace {

// The shared library that provides BLAS in this process, from /proc/self/maps.
std::string loaded_blas() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    std::string path = line.substr(slash);
    auto name = std::filesystem::path(path).filename().string();
    if (name.rfind("libblas.so", 0) == 0 || name.rfind("libopenblas", 0) == 0 ||
        name.rfind("libmkl", 0) == 0 || name.rfind("libblis", 0) == 0) {
      std::error_code ec;
      auto real = std::filesystem::canonical(path, ec);
      return ec ? path : real.string();
    }
  }
  return "";
}

// Whether this CPU has the AVX-512 subsets that LibTorch's AVX-512 kernels and
// OpenBLAS's SkylakeX kernels use (F, BW, VL, DQ).
bool cpu_has_avx512() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
#else
  return false;
#endif
}

// The kernel set OpenBLAS chose for this CPU ("Haswell", "SkylakeX", ...), or
// "" when the BLAS is not OpenBLAS.
std::string openblas_core() {
  using CoreName = char* (*)();
  auto name = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  const char* core = name != nullptr ? name() : nullptr;
  return core != nullptr ? core : "";
}

// Whether OpenBLAS runs kernels without AVX2 on a CPU that has it: it picks
// them by CPU model, and Debian 12's OpenBLAS 0.3.21 takes models newer than
// it (seen: Intel family 6 model 207) for a generic "Prescott", whose matrix
// products were ~5x slower there than with OPENBLAS_CORETYPE=SkylakeX.
bool openblas_below_cpu(const std::string& core) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (core.empty() || !__builtin_cpu_supports("avx2")) return false;
  std::string lower = core;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  // The same list as MODERN_OPENBLAS_CORES in scripts/bench/run_bench.py.
  for (const char* modern :
       {"haswell", "skylakex", "cooperlake", "sapphirerapids", "zen", "dhyana", "excavator"}) {
    if (lower == modern) return false;
  }
  return true;
#else
  return false;
#endif
}

// The OPENBLAS_CORETYPE that suits this CPU.
std::string suited_openblas_core() { return cpu_has_avx512() ? "SkylakeX" : "Haswell"; }

// LibTorch 1.x ships AVX-512 versions of its pointwise kernels but runs the
// AVX2 ones unless ATEN_CPU_CAPABILITY says otherwise; on this project's
// machines the AVX-512 SiLU, sigmoid and their backward passes take half the
// time (~10% of a sampling step). Chosen before the first kernel runs (the
// choice is made once, then), only on CPUs that have the instructions, and
// never over the user's own setting. Returns the capability in force.
std::string choose_kernels() {
  const char* set = std::getenv("ATEN_CPU_CAPABILITY");
  if (set != nullptr) return set;
  if (cpu_has_avx512()) {
    setenv("ATEN_CPU_CAPABILITY", "avx512", 0);
    return "avx512";
  }
  return "LibTorch's default";
}

}  // namespace

void add_common_flags(CLI::App& app, CommonFlags& flags, const std::string& set_example) {
  if (!set_example.empty()) {
    app.add_option("--set", flags.overrides, "Override a config key: --set " + set_example)
        ->type_name("KEY=VALUE")
        ->allow_extra_args(false);
  }
  app.add_option("--threads", flags.threads, "Intra-op threads (default: all cores)")
      ->check(non_negative_number());
  if (!set_example.empty()) {
    app.add_option("--device", flags.device, "cpu or cuda (default: the config's device)")
        ->check(CLI::IsMember({"cpu", "cuda"}));
  }
  app.add_option("--log-level", flags.log_level, "trace, debug, info, warn or error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();
}

void set_up_runtime(const std::string& program, const CommonFlags& flags) {
  spdlog::set_pattern("[%H:%M:%S] %^%l%$ %v");
  spdlog::set_level(spdlog::level::from_str(flags.log_level));
  fm::keep_freed_memory();
  const std::string kernels = choose_kernels();

  int wanted = flags.threads > 0
                   ? flags.threads
                   : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(wanted);
  int got = torch::get_num_threads();
  if (got != wanted) spdlog::warn("asked for {} threads, LibTorch uses {}", wanted, got);

  std::string blas = loaded_blas();
  const std::string core = openblas_core();
  if (!core.empty()) blas += " (OpenBLAS " + core + ")";
  spdlog::info("{} | LibTorch {} | {} threads | BLAS {} | kernels {}", program, TORCH_VERSION, got,
               blas.empty() ? "not loaded yet" : blas, kernels);
  if (openblas_below_cpu(core) && std::getenv("OPENBLAS_CORETYPE") == nullptr) {
    spdlog::warn(
        "OpenBLAS does not know this CPU and runs its generic '{}' kernels, several times "
        "slower than this CPU allows; start with OPENBLAS_CORETYPE={} in the environment",
        core, suited_openblas_core());
  }
  if (blas.find("/blas/libblas") != std::string::npos) {
    spdlog::warn(
        "the reference BLAS is active (20-30x slower matrix products); install "
        "libopenblas0-openmp (scripts/setup.sh does)");
  }
}

void add_dist_flags(CLI::App& app, DistFlags& flags) {
  app.add_option("--dist-timeout", flags.timeout_s,
                 "Multi-process runs: seconds to wait for the other ranks (rendezvous and each "
                 "collective) before failing")
      ->check(positive_number())
      ->capture_default_str();
}

Distributed start_distributed(const DistFlags& flags, const CommonFlags& common,
                              const std::string& device) {
  auto timeout = std::chrono::milliseconds(static_cast<int64_t>(flags.timeout_s * 1000.0));
  auto dist = Distributed::from_environment(
      timeout, device == "cuda" ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU));
  if (!dist.is_main() && common.log_level == "info") spdlog::set_level(spdlog::level::warn);
  if (dist.is_distributed()) {
    spdlog::info("distributed: {} processes joined (c10d), timeout {:g} s", dist.world_size(),
                 flags.timeout_s);
  }
  return dist;
}

void apply_common_overrides(nlohmann::json& config, const CommonFlags& flags) {
  for (const auto& o : flags.overrides) apply_override(config, o);
  if (!flags.device.empty()) config["device"] = flags.device;
}

namespace {

// The config key a "config: " error is about: its first 'quoted' key ("" if none).
std::string key_of(const std::string& message) {
  auto open = message.find('\'');
  if (open == std::string::npos) return "";
  auto close = message.find('\'', open + 1);
  return close == std::string::npos ? "" : message.substr(open + 1, close - open - 1);
}

// Whether setting `set` gave `key` a value: the key itself, a section above
// it, or a key below it (which turned `key` into an object).
bool sets(const std::string& set, const std::string& key) {
  return set == key || key.rfind(set + ".", 0) == 0 || set.rfind(key + ".", 0) == 0;
}

std::string section_of(const std::string& key) { return key.substr(0, key.find('.')); }

}  // namespace

ConfigSources config_sources(const std::string& origin, const CommonFlags& flags,
                             const CLI::App& app,
                             const std::vector<std::pair<std::string, std::string>>& flag_keys) {
  ConfigSources sources{origin, {}};
  for (const auto& o : flags.overrides)
    sources.settings.push_back({o.substr(0, o.find('=')), "--set " + o});
  if (!flags.device.empty()) sources.settings.push_back({"device", "--device " + flags.device});
  for (const auto& [flag, key] : flag_keys) {
    const CLI::Option* option = app.get_option_no_throw(flag);
    if (option == nullptr || option->count() == 0) continue;
    std::string typed = flag;
    for (const auto& r : option->results()) typed += " " + r;
    sources.settings.push_back({key, typed});
  }
  return sources;
}

void rethrow_naming_config_source(const InputError& e, const ConfigSources& sources) {
  static const std::string kConfig = "config: ", kModel = "model: ";
  const std::string message = e.what();
  const bool config = message.rfind(kConfig, 0) == 0;
  if (!config && message.rfind(kModel, 0) != 0) throw e;
  // "config: " says no more than the origin will; "model: " names the network.
  const std::string detail = config ? message.substr(kConfig.size()) : message;
  // A "model: " error is about the model section as a whole (its type
  // against the data, its size): no one key of it is to blame.
  const std::string key = config ? key_of(message) : "";
  const std::string section = config ? section_of(key) : "model";
  std::string exact, same_section;
  for (const auto& [set, typed] : sources.settings) {
    if (!key.empty() && sets(set, key)) exact = typed;  // the last one wins, as it did
    if (!section.empty() && section_of(set) == section) {
      same_section += (same_section.empty() ? "" : ", ") + typed;
    }
  }
  if (!exact.empty()) throw InputError(exact + ": " + detail);
  if (sources.origin.empty()) throw e;
  throw InputError(sources.origin + (same_section.empty() ? "" : " with " + same_section) + ": " +
                   detail);
}

int run_program(CLI::App& app, int argc, char** argv, const std::function<void()>& body) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    std::cerr << app.get_name() << ": error: " << e.what()
              << "\nRun with --help for more information.\n";
    return 2;
  }
  try {
    body();
    return 0;
  } catch (const InputError& e) {
    std::cerr << app.get_name() << ": error: " << e.what() << "\n";
    return 2;
  } catch (const c10::Error& e) {
    std::cerr << app.get_name() << ": error: " << e.what_without_backtrace() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << app.get_name() << ": error: " << e.what() << "\n";
    return 1;
  }
}

namespace {

CLI::Validator number_check(bool allow_zero) {
  return CLI::Validator(
      [allow_zero](std::string& text) -> std::string {
        try {
          size_t used = 0;
          double v = std::stod(text, &used);
          if (used != text.size() || !std::isfinite(v)) return "not a finite number: " + text;
          if (allow_zero ? v < 0 : v <= 0) {
            return std::string("must be ") + (allow_zero ? ">= 0" : "> 0") + ", got " + text;
          }
          return "";
        } catch (const std::exception&) {
          return "not a number: " + text;
        }
      },
      allow_zero ? ">= 0" : "> 0");
}

}  // namespace

CLI::Validator positive_number() { return number_check(false); }
CLI::Validator non_negative_number() { return number_check(true); }

std::string extension_of(const std::string& path) {
  auto ext = std::filesystem::path(path).extension().string();
  if (!ext.empty()) ext = ext.substr(1);
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  return ext;
}

}  // namespace fm::app
