// Negative log-likelihood of a trained model on a dataset split, as a CNF.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "fm/data/dataset.h"
#include "fm/nn/velocity_model.h"
#include "fm/train/run_options.h"

namespace fm {

struct NllReport {
  std::string dataset;
  std::string split;
  int64_t n = 0;                // points evaluated
  double nll_nats = 0;          // mean NLL per example in the model's space
  double nll_stderr = 0;        // std (ddof 1) / sqrt(n)
  std::string units;            // "standardized" (tables), "model" (images), "data" (toy)
  // Tables: NLL in the units before standardisation (nll_nats + sum log std).
  std::optional<double> nll_original_nats;
  // Images: bits per dimension in 8-bit pixel space and its standard error,
  // and the NLL in nats of the continuous pixel space (0..256 per dimension).
  std::optional<double> bits_per_dim, bits_per_dim_stderr, nll_pixel_nats;
  std::string estimator;        // "exact" or "hutchinson (gaussian, K=1)"
  std::string solver;           // e.g. "dopri5 rtol=1e-06 atol=1e-08" or "rk4 50 steps"
  int64_t nfe = 0;              // field evaluations, summed over batches
  double nfe_per_batch = 0;
  double seconds = 0;

  nlohmann::json to_json() const;  // the keys of DESIGN's fm-eval contract
  std::string summary() const;     // one readable line
};

// Evaluates the first min(limit, size) points of `options.split` in batches of
// options.batch_size, logging progress with an ETA. Hutchinson probes and image
// dequantisation noise come from a generator derived from `seed`, so a repeated
// evaluation gives the same figures. Memory is bounded by one batch's solve.
NllReport evaluate_nll(VelocityModel& model, Dataset& dataset, const EvalOptions& options,
                       uint64_t seed, torch::Device device);

}  // namespace fm
