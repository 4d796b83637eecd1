#include "fm/config/section.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <sstream>

#include "fm/common/error.h"

namespace fm {
namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::string format_bound(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

}  // namespace

std::string nearest_key(const std::string& key, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::max<size_t>(3, key.size() / 3) + 1;
  for (const auto& c : candidates) {
    size_t d = edit_distance(key, c);
    if (d < best_distance) best_distance = d, best = c;
  }
  return best;
}

ConfigSection::ConfigSection(const nlohmann::json& json, std::string path)
    : ConfigSection(json, std::move(path), std::make_shared<std::set<std::string>>()) {}

ConfigSection::ConfigSection(const nlohmann::json& json, std::string path,
                             std::shared_ptr<std::set<std::string>> all_asked)
    : json_(json.is_null() ? nlohmann::json::object() : json),
      path_(std::move(path)),
      all_asked_(std::move(all_asked)) {
  if (!json_.is_object()) {
    throw InputError("config: key '" + (path_.empty() ? std::string("<root>") : path_) + "' = " +
                     json_.dump() + " must be an object");
  }
}

std::string ConfigSection::key_path(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

void ConfigSection::ask(const std::string& key) {
  asked_.insert(key);
  all_asked_->insert(key_path(key));
}

bool ConfigSection::has(const std::string& key) const { return json_.contains(key); }

const nlohmann::json* ConfigSection::find(const std::string& key) const {
  auto it = json_.find(key);
  return it == json_.end() || it->is_null() ? nullptr : &*it;
}

void ConfigSection::fail(const std::string& key, const nlohmann::json& value,
                         const std::string& expected) const {
  throw InputError("config: key '" + key_path(key) + "' = " + value.dump() + " " + expected);
}

double ConfigSection::number(const std::string& key, double fallback, double min, double max,
                             bool min_exclusive) {
  ask(key);
  double v = fallback;
  if (const auto* j = find(key)) {
    if (!j->is_number()) fail(key, *j, "must be a number");
    v = j->get<double>();
  }
  bool below = min_exclusive ? !(v > min) : !(v >= min);
  if (!std::isfinite(v) || below || !(v <= max)) {
    std::string range = std::string(min_exclusive ? "> " : ">= ") + format_bound(min);
    if (std::isfinite(max)) range += " and <= " + format_bound(max);
    fail(key, v, "must be " + range);
  }
  resolved_[key] = v;
  return v;
}

int64_t ConfigSection::integer(const std::string& key, int64_t fallback, int64_t min,
                               int64_t max) {
  ask(key);
  int64_t v = fallback;
  if (const auto* j = find(key)) {
    if (j->is_number_integer()) {
      v = j->get<int64_t>();
    } else if (j->is_number_float() && std::floor(j->get<double>()) == j->get<double>() &&
               std::fabs(j->get<double>()) < 9e15) {
      v = static_cast<int64_t>(j->get<double>());
    } else {
      fail(key, *j, "must be an integer");
    }
  }
  if (v < min || v > max) {
    std::string range = ">= " + std::to_string(min);
    if (max != std::numeric_limits<int64_t>::max()) range += " and <= " + std::to_string(max);
    fail(key, v, "must be " + range);
  }
  resolved_[key] = v;
  return v;
}

bool ConfigSection::boolean(const std::string& key, bool fallback) {
  ask(key);
  bool v = fallback;
  if (const auto* j = find(key)) {
    if (!j->is_boolean()) fail(key, *j, "must be true or false");
    v = j->get<bool>();
  }
  resolved_[key] = v;
  return v;
}

std::string ConfigSection::string(const std::string& key, const std::string& fallback) {
  ask(key);
  std::string v = fallback;
  if (const auto* j = find(key)) {
    if (!j->is_string()) fail(key, *j, "must be a string");
    v = j->get<std::string>();
  }
  resolved_[key] = v;
  return v;
}

std::string ConfigSection::choice(const std::string& key, const std::string& fallback,
                                  const std::vector<std::string>& allowed) {
  std::string v = string(key, fallback);
  if (std::find(allowed.begin(), allowed.end(), v) == allowed.end()) {
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    std::string hint = nearest_key(v, allowed);
    fail(key, v, "must be one of: " + list + (hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
  }
  return v;
}

std::vector<int64_t> ConfigSection::integers(const std::string& key,
                                             const std::vector<int64_t>& fallback, int64_t min) {
  ask(key);
  std::vector<int64_t> v = fallback;
  if (const auto* j = find(key)) {
    if (!j->is_array()) fail(key, *j, "must be an array of integers");
    v.clear();
    for (const auto& e : *j) {
      if (!e.is_number_integer()) fail(key, *j, "must be an array of integers");
      v.push_back(e.get<int64_t>());
    }
  }
  for (int64_t e : v) {
    if (e < min) fail(key, v, "must hold integers >= " + std::to_string(min));
  }
  resolved_[key] = v;
  return v;
}

std::vector<double> ConfigSection::numbers(const std::string& key,
                                           const std::vector<double>& fallback) {
  ask(key);
  std::vector<double> v = fallback;
  if (const auto* j = find(key)) {
    if (!j->is_array()) fail(key, *j, "must be an array of numbers");
    v.clear();
    for (const auto& e : *j) {
      if (!e.is_number() || !std::isfinite(e.get<double>())) {
        fail(key, *j, "must be an array of finite numbers");
      }
      v.push_back(e.get<double>());
    }
  }
  resolved_[key] = v;
  return v;
}

ConfigSection ConfigSection::section(const std::string& key) {
  ask(key);
  const auto* j = find(key);
  return ConfigSection(j ? *j : nlohmann::json::object(), key_path(key), all_asked_);
}

void ConfigSection::finish() const {
  std::vector<std::string> known(asked_.begin(), asked_.end());
  for (const auto& item : json_.items()) {
    if (asked_.count(item.key())) continue;
    // The same name in a section below ('steps': 'eval.steps', 'sample.steps'
    // or 'train.steps') beats a near name at this level ('seed').
    const std::vector<std::string> deeper = same_key_deeper(item.key());
    std::string hint;
    for (size_t i = 0; i < deeper.size(); ++i) {
      hint += (i == 0 ? "'" : i + 1 < deeper.size() ? ", '" : " or '") + deeper[i] + "'";
    }
    if (hint.empty()) {
      const std::string nearest = nearest_key(item.key(), known);
      if (!nearest.empty()) hint = "'" + key_path(nearest) + "'";
    }
    throw InputError("config: unknown key '" + key_path(item.key()) + "'" +
                     (hint.empty() ? "" : " (did you mean " + hint + "?)"));
  }
}

std::vector<std::string> ConfigSection::same_key_deeper(const std::string& key) const {
  const std::string prefix = path_.empty() ? "" : path_ + ".";
  const std::string suffix = "." + key;
  std::vector<std::string> found;
  for (const auto& path : *all_asked_) {
    if (path.rfind(prefix, 0) == 0 && path.size() > prefix.size() + suffix.size() &&
        path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0) {
      found.push_back(path);
    }
  }
  if (!found.empty()) return found;
  // Sections read by their own readers (data, model) are not among the keys
  // asked here; the config's own sub-objects that hold the key stand in.
  std::function<void(const nlohmann::json&, const std::string&)> search =
      [&](const nlohmann::json& object, const std::string& path) {
        for (const auto& item : object.items()) {
          if (!item.value().is_object()) continue;
          const std::string below = path + item.key() + ".";
          if (item.value().contains(key)) found.push_back(below + key);
          search(item.value(), below);
        }
      };
  search(json_, prefix);
  return found;
}

nlohmann::json ConfigSection::resolved() const { return resolved_; }

}  // namespace fm
