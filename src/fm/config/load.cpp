#include "fm/config/load.h"

#include <fstream>
#include <sstream>

#include "fm/common/error.h"

namespace fm {

nlohmann::json load_config_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError("config: cannot read file '" + path + "'");
  std::stringstream text;
  text << in.rdbuf();
  try {
    return nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError("config: '" + path + "' is not valid JSON: " + e.what());
  }
}

void apply_override(nlohmann::json& config, const std::string& assignment) {
  auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw InputError("--set '" + assignment + "': expected key.path=value");
  }
  std::string key_path = assignment.substr(0, eq);
  std::string text = assignment.substr(eq + 1);

  nlohmann::json value = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) value = text;

  nlohmann::json* node = &config;
  std::stringstream keys(key_path);
  std::string key, walked;
  std::vector<std::string> parts;
  while (std::getline(keys, key, '.')) parts.push_back(key);
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].empty()) throw InputError("--set '" + assignment + "': empty key in path");
    if (node->is_null()) *node = nlohmann::json::object();
    if (!node->is_object()) {
      throw InputError("--set '" + assignment + "': '" + walked + "' is not an object");
    }
    walked += (walked.empty() ? "" : ".") + parts[i];
    node = &(*node)[parts[i]];
  }
  *node = value;
}

nlohmann::json load_config(const std::string& path, const std::vector<std::string>& overrides) {
  nlohmann::json config = load_config_file(path);
  if (!config.is_object()) throw InputError("config: '" + path + "' must hold a JSON object");
  for (const auto& o : overrides) apply_override(config, o);
  return config;
}

}  // namespace fm
