#include "fm/config/json_diff.h"

namespace fm {

std::string first_difference(const nlohmann::json& a, const nlohmann::json& b,
                             const std::set<std::string>& ignored, const std::string& prefix) {
  if (ignored.count(prefix)) return "";
  if (!a.is_object() || !b.is_object()) return a == b ? "" : (prefix.empty() ? "<root>" : prefix);
  auto path = [&](const std::string& key) { return prefix.empty() ? key : prefix + "." + key; };
  // Keys both sides have come first: when "data.type" changed, the keys only
  // the other type has (its defaults) are consequences, not the cause.
  for (const auto& item : a.items()) {
    if (ignored.count(path(item.key())) || !b.contains(item.key())) continue;
    auto d = first_difference(item.value(), b[item.key()], ignored, path(item.key()));
    if (!d.empty()) return d;
  }
  for (const auto& item : a.items()) {
    if (!b.contains(item.key()) && !ignored.count(path(item.key()))) return path(item.key());
  }
  for (const auto& item : b.items()) {
    if (!a.contains(item.key()) && !ignored.count(path(item.key()))) return path(item.key());
  }
  return "";
}

}  // namespace fm
