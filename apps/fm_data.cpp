// fm-data: prepares datasets ahead of training.
//   fm-data prepare --dataset power|gas [--root data/] --out DIR
// writes DIR/{train,val,test}.npy (float64) and DIR/stats.json.
#include <spdlog/spdlog.h>

#include <filesystem>

#include "common/program.h"
#include "fm/data/maf_tabular.h"
#include "fm/io/atomic_file.h"
#include "fm/io/npy.h"

int main(int argc, char** argv) {
  CLI::App app{"Prepare datasets: write preprocessed splits as .npy.", "fm-data"};
  app.require_subcommand(1);
  auto* prepare = app.add_subcommand("prepare", "Preprocess POWER or GAS as MAF does");
  prepare->fallthrough();  // common flags may follow the subcommand
  std::string dataset, root = "data", out;
  prepare->add_option("--dataset", dataset, "power or gas")
      ->required()
      ->check(CLI::IsMember({"power", "gas"}));
  prepare->add_option("--root", root, "Folder holding power/ and gas/")->capture_default_str();
  prepare->add_option("--out", out, "Output folder")->required();
  fm::app::CommonFlags common;
  fm::app::add_common_flags(app, common, "");

  return fm::app::run_program(app, argc, argv, [&] {
    fm::app::set_up_runtime("fm-data", common);
    auto splits = dataset == "power" ? fm::load_power(root) : fm::load_gas(root);
    std::filesystem::create_directories(out);
    auto path = [&](const std::string& name) {
      return (std::filesystem::path(out) / name).string();
    };
    fm::write_npy(path("train.npy"), splits.train.contiguous());
    fm::write_npy(path("val.npy"), splits.val.contiguous());
    fm::write_npy(path("test.npy"), splits.test.contiguous());
    nlohmann::json stats = {{"dataset", dataset},
                            {"columns", splits.columns},
                            {"rows",
                             {{"train", splits.train.size(0)},
                              {"val", splits.val.size(0)},
                              {"test", splits.test.size(0)}}},
                            {"normalisation", splits.normalisation.to_json()}};
    fm::write_text_atomically(path("stats.json"), stats.dump(2) + "\n");
    spdlog::info("{}: train {} / val {} / test {} rows, D = {} -> {}", dataset,
                 splits.train.size(0), splits.val.size(0), splits.test.size(0),
                 splits.train.size(1), out);
  });
}
