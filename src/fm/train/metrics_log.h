// metrics.jsonl: one JSON object per logging interval
// ({"step", "loss", "lr", "grad_norm", "seconds"[, "val_loss"]}).
#pragma once

#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace fm {

class MetricsLog {
 public:
  // Opens `path` for appending. keep_through_step > 0 (a resume) first drops
  // rows logged after that step by the interrupted run, so the file reads as
  // one uninterrupted run; 0 starts a new file.
  MetricsLog(const std::string& path, int64_t keep_through_step);

  void append(const nlohmann::json& row);  // flushed at once

 private:
  std::ofstream out_;
  std::string path_;
};

}  // namespace fm
