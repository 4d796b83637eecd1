#include "fm/train/metrics_log.h"

#include <sstream>

#include "fm/common/error.h"
#include "fm/io/atomic_file.h"

namespace fm {

MetricsLog::MetricsLog(const std::string& path, int64_t keep_through_step) : path_(path) {
  std::string kept;
  if (keep_through_step > 0) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      auto row = nlohmann::json::parse(line, nullptr, false);
      if (!row.is_discarded() && row.value("step", int64_t{0}) <= keep_through_step) {
        kept += line + "\n";
      }
    }
  }
  write_text_atomically(path, kept);
  out_.open(path, std::ios::app);
  if (!out_) throw RuntimeError("train: cannot open '" + path + "' for writing");
}

void MetricsLog::append(const nlohmann::json& row) {
  out_ << row.dump() << "\n";
  out_.flush();
  if (!out_) throw RuntimeError("train: cannot write to '" + path_ + "'");
}

}  // namespace fm
