// Negative log-likelihood of a trained model on a dataset split, as a CNF.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "fm/data/dataset.h"
#include "fm/dist/process_group.h"
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
// options.batch_size, logging progress with an ETA. Batch b (points
// [b * batch_size, (b + 1) * batch_size)) draws its Hutchinson probes and image
// dequantisation noise from a generator of its own, derived from (seed, b), so
// a repeated evaluation gives the same figures and no point's figure depends on
// which process evaluated the batches before it. Memory is bounded by one
// batch's solve plus one float64 per point.
//
// Multi-process: every rank calls this with the same arguments; rank r
// evaluates batches r, r + W, r + 2W, ... (W = world_size) and the per-point
// log-likelihoods are then summed over ranks, where each point is non-zero on
// exactly one rank. So every rank returns the report a single process gives on
// the same points (identical at equal thread counts; `seconds` is this rank's).
NllReport evaluate_nll(VelocityModel& model, Dataset& dataset, const EvalOptions& options,
                       uint64_t seed, torch::Device device,
                       const Distributed& dist = Distributed::single_process());

}  // namespace fm
