// Loading a run's JSON config: the file, then `--set key.path=value` overrides.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace fm {

// Parses `path` as JSON (comments are not allowed; a top-level "comment" key is
// accepted anywhere a section is read). Throws InputError naming the file and
// the line/column of a syntax error, a key given twice in one object (with its
// path), or a missing/unreadable file.
nlohmann::json load_config_file(const std::string& path);

// Applies one override "a.b.c=value". The value is parsed as JSON when it is
// valid JSON (numbers, true/false, null, arrays, objects, quoted strings) and
// taken as a plain string otherwise. Intermediate objects are created as needed;
// descending into a non-object throws InputError naming the override.
void apply_override(nlohmann::json& config, const std::string& assignment);

// load_config_file followed by every override in order.
nlohmann::json load_config(const std::string& path, const std::vector<std::string>& overrides);

}  // namespace fm
