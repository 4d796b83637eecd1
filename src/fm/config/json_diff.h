// Comparing two configs key by key.
#pragma once

#include <nlohmann/json.hpp>
#include <set>
#include <string>

namespace fm {

// The dotted path of the first key whose value differs between a and b,
// skipping the dotted paths in `ignored` and everything below them; "" when
// they agree. Within each object, keys both have are compared before a key
// present in only one is reported.
std::string first_difference(const nlohmann::json& a, const nlohmann::json& b,
                             const std::set<std::string>& ignored, const std::string& prefix = "");

}  // namespace fm
