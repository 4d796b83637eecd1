// Formatting helpers for the networks' messages and describe() lines (private to fm/nn).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fm {

// 198914 -> "198,914".
std::string with_thousands(int64_t n);

// A shape for messages: {2, 1, 28, 28} -> "(2, 1, 28, 28)"; {} -> "()".
std::string shape_string(const std::vector<int64_t>& shape);

// A config list for messages: {1, 2, 2} -> "[1, 2, 2]".
std::string list_string(const std::vector<int64_t>& values);

}  // namespace fm
