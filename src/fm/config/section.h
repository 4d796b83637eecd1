// Typed, validated reading of one JSON object of a config.
//
// Each component reads its own section through a ConfigSection: every get()
// names a key, its default and the allowed range, and records the value used.
// finish() rejects keys nobody asked for (suggesting the nearest valid key), so
// a typo never passes silently. Errors are InputError with the full key path:
//   "config: key 'train.lr' = -1 must be > 0"
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace fm {

class ConfigSection {
 public:
  // `json` must be an object (or null, read as empty); `path` is its dotted key
  // path for messages ("" for the root, "model", "train.optimizer", ...).
  ConfigSection(const nlohmann::json& json, std::string path);

  // Numbers: the value must be a JSON number (integers must be integral) in
  // [min, max]; `min_exclusive` makes the lower bound strict.
  double number(const std::string& key, double fallback,
                double min = -std::numeric_limits<double>::infinity(),
                double max = std::numeric_limits<double>::infinity(), bool min_exclusive = false);
  int64_t integer(const std::string& key, int64_t fallback,
                  int64_t min = std::numeric_limits<int64_t>::min(),
                  int64_t max = std::numeric_limits<int64_t>::max());
  bool boolean(const std::string& key, bool fallback);
  std::string string(const std::string& key, const std::string& fallback);
  // A string that must be one of `allowed` (the error lists them).
  std::string choice(const std::string& key, const std::string& fallback,
                     const std::vector<std::string>& allowed);
  std::vector<int64_t> integers(const std::string& key, const std::vector<int64_t>& fallback,
                                int64_t min = std::numeric_limits<int64_t>::min());
  std::vector<double> numbers(const std::string& key, const std::vector<double>& fallback);
  // A nested object (absent: empty). Its own finish() must be called.
  ConfigSection section(const std::string& key);
  bool has(const std::string& key) const;

  // Throws InputError for the first key that no getter asked for, suggesting
  // the nearest key of this section or else a key of that name in a section
  // below it that has been read ('train.lr' -> 'train.optimizer.lr').
  void finish() const;

  // The values used, defaults included, as an object. Nested sections are not
  // included: their readers add them with set_resolved().
  nlohmann::json resolved() const;
  void set_resolved(const std::string& key, const nlohmann::json& value) { resolved_[key] = value; }
  const std::string& path() const { return path_; }
  std::string key_path(const std::string& key) const;

 private:
  ConfigSection(const nlohmann::json& json, std::string path,
                std::shared_ptr<std::set<std::string>> all_asked);
  void ask(const std::string& key);
  std::vector<std::string> same_key_deeper(const std::string& key) const;
  const nlohmann::json* find(const std::string& key) const;
  [[noreturn]] void fail(const std::string& key, const nlohmann::json& value,
                         const std::string& expected) const;

  nlohmann::json json_;
  std::string path_;
  std::set<std::string> asked_;
  // Full key paths asked of this section and of every section made from the
  // same root, for suggestions across sections.
  std::shared_ptr<std::set<std::string>> all_asked_;
  nlohmann::json resolved_ = nlohmann::json::object();
};

// The key among `candidates` nearest to `key` by edit distance ("" if none is close).
std::string nearest_key(const std::string& key, const std::vector<std::string>& candidates);

}  // namespace fm
