// The flow matching training loop (DESIGN: train/). Each step draws data x_1,
// source x_0 ~ N(0, I) and times t ~ U[0, 1] from the run's own generator,
// couples (x_0, x_1) per the path type, regresses v_theta(x_t, t) on u_t, and
// updates the weights. All random draws come from one generator whose state is
// checkpointed, so a resumed run continues bit for bit.
//
// Multi-process (data-parallel) runs: each of the world_size ranks draws
// train.batch_size / world_size rows from its own generator, seeded from
// (seed, rank); gradients are averaged over the ranks before clipping, so every
// rank takes the same optimiser and EMA step from the same weights (broadcast
// from rank 0 at the start). Minibatch OT (path.type "otcfm") pairs x_0 and x_1
// within each rank's share, not across the global batch. Only rank 0 writes
// files; the checkpoint holds every rank's generator state, and resuming needs
// the same number of processes. Single-process runs are unchanged.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>

#include "fm/data/dataset.h"
#include "fm/dist/process_group.h"
#include "fm/nn/velocity_model.h"
#include "fm/train/run_options.h"

namespace fm {

struct TrainSummary {
  int64_t steps = 0;           // steps completed in total (resumed ones included)
  double last_loss = NAN;      // mean training loss over the last logging interval
  double best_val_loss = NAN;  // NaN when no validation was run
  double seconds = 0.0;        // wall time of this invocation
  std::string latest_checkpoint;
  std::string best_checkpoint;
};

class Trainer {
 public:
  // Writes into out_dir: config.json, metrics.jsonl, checkpoints/{latest,best}.pt.
  // With `resume`, continues from out_dir/checkpoints/latest.pt; its config must
  // match `options` except for train.steps, which may grow. Every rank of `dist`
  // constructs and runs its own Trainer with the same arguments (out_dir visible
  // to all). Throws InputError when train.batch_size is not a multiple of
  // dist.world_size().
  Trainer(RunOptions options, Dataset& dataset, std::string out_dir, bool resume,
          const Distributed& dist = Distributed::single_process());
  ~Trainer();

  // Trains to train.steps. A positive `stop_after_step` ends the run early after
  // that step (with a checkpoint), as an interruption would; resuming then
  // continues exactly.
  TrainSummary run(int64_t stop_after_step = 0);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Name of the stream derived from the run seed for each purpose (derive_seed).
enum SeedStream : uint64_t {
  kInitStream = 1,      // network initialisation
  kTrainStream = 2,     // training draws
  kValidationStream = 3,
  kSampleStream = 4,
  kEvalStream = 5,
};

}  // namespace fm
