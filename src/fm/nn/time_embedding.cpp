#include "fm/nn/time_embedding.h"

#include <cmath>

namespace fm {

torch::Tensor sinusoidal_embedding(const torch::Tensor& t, int64_t dim, double scale) {
  const int64_t half = dim / 2;
  // NOTE: the frequencies are float32 whatever t's dtype, and each operation
  // mirrors cfm_ref.py's order, so that float32 results agree with the
  // reference bit for bit: arguments reach scale = 1000 rad, where one float32
  // rounding more or less already moves sin() by ~1e-4.
  auto freqs = torch::arange(half, torch::TensorOptions().dtype(torch::kFloat).device(t.device()));
  freqs = torch::exp(freqs * (-std::log(10000.0)) / half);
  auto args = (t * scale).unsqueeze(1) * freqs.unsqueeze(0);
  return torch::cat({torch::sin(args), torch::cos(args)}, 1);
}

}  // namespace fm
