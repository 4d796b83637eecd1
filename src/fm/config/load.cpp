#include "fm/config/load.h"

#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "fm/common/error.h"

namespace fm {
namespace {

// Parser callback that rejects an object naming one key twice. JSON allows
// it and nlohmann_json keeps the last value silently, so a config saying
// "lr" twice would train with whichever came last, unnoticed.
class DuplicateKeyCheck {
 public:
  explicit DuplicateKeyCheck(std::string path) : path_(std::move(path)) {}

  bool operator()(int /*depth*/, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    switch (event) {
      case Event::object_start:
      case Event::array_start:
        frames_.push_back({child_path(), {}, event == Event::object_start});
        break;
      case Event::object_end:
      case Event::array_end:
        frames_.pop_back();
        break;
      case Event::key: {
        auto& frame = frames_.back();
        last_key_ = parsed.get<std::string>();
        if (!frame.keys.insert(last_key_).second) {
          throw InputError("config: '" + path_ + "' gives key '" + child_path() +
                           "' twice (only one may stay; JSON parsers would keep the last)");
        }
        break;
      }
      case Event::value:
        break;
    }
    return true;
  }

 private:
  struct Frame {
    std::string path;            // "train.optimizer", "" at the top, "a.b[]" in an array
    std::set<std::string> keys;  // objects only
    bool is_object;
  };

  // The path of the value about to be parsed: the last key of the innermost
  // object, or "[]" inside an array.
  std::string child_path() const {
    if (frames_.empty()) return "";
    const auto& frame = frames_.back();
    if (!frame.is_object) return frame.path + "[]";
    return frame.path.empty() ? last_key_ : frame.path + "." + last_key_;
  }

  std::string path_;
  std::vector<Frame> frames_;
  std::string last_key_;
};

}  // namespace

nlohmann::json load_config_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError("config: cannot read file '" + path + "'");
  std::stringstream text;
  text << in.rdbuf();
  try {
    return nlohmann::json::parse(text.str(), DuplicateKeyCheck(path));
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
