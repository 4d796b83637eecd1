// fm-eval: negative log-likelihood of a trained model as a continuous
// normalizing flow (nats per example; bits per dimension for images).
//   fm-eval --checkpoint CKPT [--split test|val] [--estimator exact|hutchinson]
//           [--solver S] [--steps K | --rtol R --atol A] [--json FILE]
// As N processes (torchrun or scripts/launch-local.sh) the points are shared
// out by batch; rank 0 prints and writes the report.
#include <spdlog/spdlog.h>

#include <iostream>

#include "common/program.h"
#include "common/sample_writer.h"
#include "fm/common/error.h"
#include "fm/data/dataset.h"
#include "fm/io/atomic_file.h"
#include "fm/train/evaluate.h"
#include "fm/train/trained_model.h"

namespace {

// The standardisation refitted on today's training data must be the one the
// model was trained with, else the NLL would be measured in other units.
void check_same_standardization(const fm::Standardizer& stored, const fm::Standardizer& now) {
  if (stored.is_identity() && now.is_identity()) return;
  bool same = !stored.is_identity() && !now.is_identity() &&
              torch::allclose(stored.mean(), now.mean(), 1e-9, 1e-12) &&
              torch::allclose(stored.std(), now.std(), 1e-9, 1e-12);
  if (!same) {
    throw fm::InputError(
        "fm-eval: the training data's statistics differ from those stored in the "
        "checkpoint; the data files changed since training");
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Evaluate the negative log-likelihood of a trained model.", "fm-eval"};
  std::string checkpoint, split, estimator, probe, solver, json_path;
  int64_t steps = 0, n_probes = 0, batch_size = 0, limit = -1, seed = -1;
  double step_size = 0, rtol = 0, atol = 0;
  bool raw_weights = false;
  fm::app::CommonFlags common;
  fm::app::DistFlags dist_flags;
  app.add_option("--checkpoint", checkpoint, "Checkpoint (.pt) written by fm-train")->required();
  app.add_option("--split", split, "test or val (default: eval.split)");
  app.add_option("--estimator", estimator, "exact or hutchinson (default: eval.estimator)");
  app.add_option("--probe", probe, "Hutchinson probes: gaussian or rademacher");
  app.add_option("--n-probes", n_probes, "Hutchinson probes per sample")
      ->check(fm::app::positive_number());
  app.add_option("--solver", solver, "euler, midpoint, heun, rk4 or dopri5");
  app.add_option("--steps", steps, "Fixed-step solvers: number of steps")
      ->check(fm::app::positive_number());
  app.add_option("--step-size", step_size, "Fixed-step solvers: step size")
      ->check(fm::app::positive_number());
  app.add_option("--rtol", rtol, "dopri5 relative tolerance")->check(fm::app::positive_number());
  app.add_option("--atol", atol, "dopri5 absolute tolerance")->check(fm::app::positive_number());
  app.add_option("--batch-size", batch_size, "Points per solve")->check(fm::app::positive_number());
  app.add_option("--limit", limit, "Evaluate only the first N points (0 = all)")
      ->check(fm::app::non_negative_number());
  app.add_option("--seed", seed, "Seed for probes and dequantisation (default: run seed)")
      ->check(fm::app::non_negative_number());
  app.add_option("--json", json_path, "Also write the report as JSON");
  app.add_flag("--raw-weights", raw_weights, "Use the raw weights even if an EMA exists");
  fm::app::add_common_flags(app, common, "eval.steps=100");
  fm::app::add_dist_flags(app, dist_flags);

  return fm::app::run_program(app, argc, argv, [&] {
    fm::app::set_up_runtime("fm-eval", common);
    if (!json_path.empty()) fm::prepare_output_file(json_path, "--json");

    // Load the model with the command line's evaluation settings.
    const auto sources = fm::app::config_sources(
        "config of checkpoint '" + checkpoint + "'", common, app,
        fm::app::solver_flag_keys("eval", {{"--split", "eval.split"},
                                           {"--estimator", "eval.estimator"},
                                           {"--probe", "eval.probe"},
                                           {"--n-probes", "eval.n_probes"},
                                           {"--batch-size", "eval.batch_size"},
                                           {"--limit", "eval.limit"}}));
    auto trained = fm::app::naming_config_source(sources, [&] {
      return fm::load_trained_model(
          checkpoint,
          [&](nlohmann::json& config) {
            fm::app::apply_common_overrides(config, common);
            auto& eval = config["eval"];
            fm::app::apply_solver_flags(eval, solver, steps, step_size, rtol, atol);
            if (!split.empty()) eval["split"] = split;
            if (!estimator.empty()) eval["estimator"] = estimator;
            if (!probe.empty()) eval["probe"] = probe;
            if (n_probes > 0) eval["n_probes"] = n_probes;
            if (batch_size > 0) eval["batch_size"] = batch_size;
            if (limit >= 0) eval["limit"] = limit;
          },
          !raw_weights);
    });
    const auto& eval = trained.options.eval;
    fm::app::warn_unused_tolerances(eval.likelihood.solver.method, rtol, atol);

    // Rebuild the data exactly as in training.
    auto dataset = fm::make_dataset(trained.options.data, trained.options.seed);
    check_same_standardization(trained.meta.standardizer, dataset->standardizer());
    if (dataset->kind() == fm::DataKind::kImage &&
        eval.likelihood.divergence.estimator == "exact") {
      spdlog::warn(
          "exact divergence on images takes one backward pass per pixel per step; "
          "hutchinson is the usual choice");
    }

    // Evaluate (each rank its share) and report from rank 0.
    auto dist = fm::app::start_distributed(dist_flags, common, trained.options.device);
    uint64_t eval_seed = seed >= 0 ? static_cast<uint64_t>(seed) : trained.options.seed;
    auto report = fm::evaluate_nll(*trained.model, *dataset, eval, eval_seed, trained.device, dist);
    if (dist.is_main()) std::cout << report.summary() << std::endl;
    if (dist.is_main() && !json_path.empty()) {
      auto j = report.to_json();
      j["checkpoint"] = checkpoint;
      j["ema"] = trained.uses_ema;
      fm::write_text_atomically(json_path, j.dump(2) + "\n");
      fm::write_text_atomically(json_path + ".config.json",
                                trained.options.resolved.dump(2) + "\n");
      spdlog::info("report: {}", json_path);
    }
    dist.barrier();
  });
}
