// fm-sample: integrates dx/dt = v(x, t) from noise to data and writes samples.
//   fm-sample --checkpoint CKPT --num N [--solver S] [--steps K] [--seed S]
//             --out FILE (.npy, .csv or .png) [--trajectory]
#include <spdlog/spdlog.h>

#include <filesystem>

#include "common/program.h"
#include "common/sample_writer.h"
#include "fm/common/error.h"
#include "fm/common/random.h"
#include "fm/data/dataset.h"
#include "fm/io/atomic_file.h"
#include "fm/train/generate.h"
#include "fm/train/trained_model.h"
#include "fm/train/trainer.h"

int main(int argc, char** argv) {
  CLI::App app{"Draw samples from a trained flow matching model.", "fm-sample"};
  std::string checkpoint, out, solver;
  int64_t num = 0, steps = 0, seed = -1, rows = 0, cols = 0;
  double step_size = 0, rtol = 0, atol = 0;
  bool trajectory = false, raw_weights = false;
  fm::app::CommonFlags common;
  app.add_option("--checkpoint", checkpoint, "Checkpoint (.pt) written by fm-train")->required();
  app.add_option("--out", out, "Output file: .npy, .csv or .png")->required();
  app.add_option("--num", num, "Number of samples (default: sample.num)")
      ->check(fm::app::positive_number());
  app.add_option("--solver", solver, "euler, midpoint, heun, rk4 or dopri5");
  app.add_option("--steps", steps, "Fixed-step solvers: number of steps")
      ->check(fm::app::positive_number());
  app.add_option("--step-size", step_size, "Fixed-step solvers: step size")
      ->check(fm::app::positive_number());
  app.add_option("--rtol", rtol, "dopri5 relative tolerance")->check(fm::app::positive_number());
  app.add_option("--atol", atol, "dopri5 absolute tolerance")->check(fm::app::positive_number());
  app.add_option("--seed", seed, "Seed of the source draws (default: from the run seed)")
      ->check(fm::app::non_negative_number());
  app.add_flag("--trajectory", trajectory, "Also write <out stem>.trajectory.npy (S+1, N, ...)");
  app.add_flag("--raw-weights", raw_weights, "Use the raw weights even if an EMA exists");
  app.add_option("--grid-rows", rows, ".png of images: grid rows (default: square)")
      ->check(fm::app::positive_number());
  app.add_option("--grid-cols", cols, ".png of images: grid columns (default: square)")
      ->check(fm::app::positive_number());
  fm::app::add_common_flags(app, common, "sample.steps=200");

  return fm::app::run_program(app, argc, argv, [&] {
    fm::app::set_up_runtime("fm-sample", common);
    fm::app::check_sample_extension(out);
    fm::prepare_output_file(out, "--out");

    // Load the model with the command line's sampling settings.
    const auto sources =
        fm::app::config_sources("config of checkpoint '" + checkpoint + "'", common, app,
                                fm::app::solver_flag_keys("sample", {{"--num", "sample.num"}}));
    auto trained = fm::app::naming_config_source(sources, [&] {
      return fm::load_trained_model(
          checkpoint,
          [&](nlohmann::json& config) {
            fm::app::apply_common_overrides(config, common);
            fm::app::apply_solver_flags(config["sample"], solver, steps, step_size, rtol, atol);
            if (num > 0) config["sample"]["num"] = num;
          },
          !raw_weights);
    });
    const auto& sample = trained.options.sample;
    fm::app::warn_unused_tolerances(sample.solver.method, rtol, atol);
    fm::app::check_grid_flags(out, rows, cols, sample.num);

    // Integrate from noise to data.
    fm::GenerateOptions options{sample.solver, sample.num, sample.batch_size, trajectory};
    uint64_t stream_seed = seed >= 0 ? static_cast<uint64_t>(seed)
                                     : fm::derive_seed(trained.options.seed, fm::kSampleStream);
    auto generator = fm::make_generator(stream_seed);
    auto result = fm::generate_samples(*trained.model, trained.meta.example_shape, options,
                                       generator, trained.device);
    spdlog::info("sampled {} points in {:.3f} s, nfe {}{}", sample.num, result.seconds,
                 result.stats.nfe,
                 fm::is_adaptive(sample.solver.method)
                     ? fmt::format(" ({} accepted, {} rejected steps)", result.stats.n_accepted,
                                   result.stats.n_rejected)
                     : "");

    // Write the samples (data space), the trajectory and the resolved config.
    auto dataset = fm::make_dataset(trained.options.data, trained.options.seed);
    fm::app::SampleWriter writer(trained.meta, *dataset, rows, cols);
    writer.write(out, result.x_1);
    if (trajectory) {
      auto path = fm::app::trajectory_path(out);
      writer.write_trajectory(path, result.trajectory);
      spdlog::info("trajectory: {}", path);
    }
    nlohmann::json resolved = trained.options.resolved;
    resolved["sample_run"] = {{"checkpoint", checkpoint},
                              {"seed", stream_seed},
                              {"ema", trained.uses_ema},
                              {"nfe", result.stats.nfe},
                              {"seconds", result.seconds}};
    fm::write_text_atomically(out + ".config.json", resolved.dump(2) + "\n");
    spdlog::info("samples: {}", out);
  });
}
