// fm-train: trains a velocity network by conditional flow matching.
//   fm-train --config C [--set k=v]... [--out DIR] [--resume] [--dist-timeout S]
// As N processes (torchrun or scripts/launch-local.sh): data-parallel training,
// rank 0 writes the outputs.
#include <spdlog/spdlog.h>

#include <filesystem>

#include "common/program.h"
#include "fm/config/load.h"
#include "fm/data/dataset.h"
#include "fm/train/run_options.h"
#include "fm/train/trainer.h"

int main(int argc, char** argv) {
  CLI::App app{"Train a flow matching velocity network from a JSON config.", "fm-train"};
  std::string config_path, out_dir;
  bool resume = false;
  fm::app::CommonFlags common;
  fm::app::DistFlags dist_flags;
  app.add_option("--config", config_path, "Run config (JSON)")->required();
  app.add_option("--out", out_dir, "Output directory (default: runs/<name>)");
  app.add_flag("--resume", resume, "Continue from <out>/checkpoints/latest.pt");
  fm::app::add_common_flags(app, common, "train.optimizer.lr=3e-4");
  fm::app::add_dist_flags(app, dist_flags);

  return fm::app::run_program(app, argc, argv, [&] {
    fm::app::set_up_runtime("fm-train", common);

    // Parse and validate the whole config before any work starts.
    auto config = fm::load_config(config_path, {});
    fm::app::apply_common_overrides(config, common);
    const auto sources = fm::app::config_sources("config '" + config_path + "'", common, app);
    auto options =
        fm::app::naming_config_source(sources, [&] { return fm::parse_run_options(config); });
    if (out_dir.empty()) out_dir = (std::filesystem::path("runs") / options.name).string();
    spdlog::info("config {}: {}", config_path, options.resolved.dump());

    // Join the other processes, if any, then build the data and train.
    auto dist = fm::app::start_distributed(dist_flags, common, options.device);
    auto dataset = fm::app::naming_config_source(
        sources, [&] { return fm::make_dataset(options.data, options.seed); });
    // (The model is built, and its options checked against the data, in run().)
    auto summary = fm::app::naming_config_source(sources, [&] {
      fm::Trainer trainer(options, *dataset, out_dir, resume, dist);
      return trainer.run();
    });
    dist.barrier();  // rank 0's files are complete before any rank reports done

    spdlog::info("done: {} steps in {:.1f} s, last loss {:.4f}", summary.steps, summary.seconds,
                 summary.last_loss);
    spdlog::info("checkpoints: {} (latest), {} (best)", summary.latest_checkpoint,
                 summary.best_checkpoint);
  });
}
