// Time embeddings shared by the velocity networks (private to fm/nn).
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace fm {

// Sinusoidal embedding of t as in DDPM and cfm_ref.py's `sinusoidal`:
//   half = dim / 2, f_i = exp(-ln(10000) i / half) for i = 0 .. half - 1,
//   emb = [sin(scale t f), cos(scale t f)].
// t: (B,) -> (B, dim) in t's dtype (at least float32). dim must be even and >= 2.
torch::Tensor sinusoidal_embedding(const torch::Tensor& t, int64_t dim, double scale = 1000.0);

}  // namespace fm
