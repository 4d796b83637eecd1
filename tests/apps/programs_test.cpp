// The programs as a user runs them: exit codes (0 success, 1 runtime failure,
// 2 bad usage or input), messages that name the file or key at fault, and no
// partial output left behind by a failure.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fm/io/npy.h"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

struct Run {
  int code;
  std::string output;  // stdout and stderr together
};

Run run(const std::string& program, const std::string& args) {
  // CTest runs tests of this file in parallel processes: keep their files apart.
  auto log = fs::path(FM_BINARY_DIR) / ("programs_test." + std::to_string(getpid()) + ".log");
  std::string command = std::string(FM_BINARY_DIR) + "/" + program + " " + args +
                        " --threads 1 > " + log.string() + " 2>&1";
  int status = std::system(command.c_str());
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  in.close();
  fs::remove(log);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, text.str()};
}

std::string scratch(const std::string& name) {
  auto dir = fs::path(FM_BINARY_DIR) / "programs_test" / (name + "." + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

std::string write_config(const std::string& dir, const json& config) {
  auto path = dir + "/config.json";
  std::ofstream(path) << config.dump(2);
  return path;
}

json tiny_moons() {
  return {{"name", "tiny"},
          {"data", {{"type", "moons"}, {"n_val", 128}, {"n_test", 128}}},
          {"model", {{"type", "mlp"}, {"hidden", 32}, {"depth", 2}}},
          {"train", {{"steps", 30}, {"batch_size", 64}, {"log_every", 10}, {"val_every", 10}}},
          {"eval", {{"solver", "rk4"}, {"steps", 10}}}};
}

// One trained model shared by the tests below.
const std::string& trained_checkpoint() {
  static const std::string checkpoint = [] {
    auto dir = scratch("trained");
    auto result = run("fm-train", "--config " + write_config(dir, tiny_moons()) + " --out " + dir);
    EXPECT_EQ(result.code, 0) << result.output;
    return dir + "/checkpoints/latest.pt";
  }();
  return checkpoint;
}

bool has_temporary_files(const std::string& dir) {
  for (auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.path().filename().string().find(".tmp") != std::string::npos) return true;
  }
  return false;
}

TEST(Programs, TrainSampleEvalSucceedEndToEnd) {
  const auto& checkpoint = trained_checkpoint();
  auto dir = scratch("end_to_end");
  auto sample = run("fm-sample", "--checkpoint " + checkpoint +
                                     " --num 300 --solver euler "
                                     "--steps 20 --out " +
                                     dir + "/s.npy --trajectory");
  ASSERT_EQ(sample.code, 0) << sample.output;
  auto x = fm::read_npy(dir + "/s.npy");
  EXPECT_EQ(x.sizes(), (std::vector<int64_t>{300, 2}));
  auto path = fm::read_npy(dir + "/s.trajectory.npy");
  EXPECT_EQ(path.sizes(), (std::vector<int64_t>{21, 300, 2}));  // x_0 and 20 steps
  EXPECT_TRUE(torch::allclose(path[20], x));
  EXPECT_TRUE(fs::exists(dir + "/s.npy.config.json"));

  auto eval = run("fm-eval", "--checkpoint " + checkpoint + " --json " + dir + "/e.json");
  ASSERT_EQ(eval.code, 0) << eval.output;
  std::ifstream in(dir + "/e.json");
  json report = json::parse(in);
  for (const char* key : {"dataset", "split", "n", "nll_nats", "nll_stderr", "estimator", "solver",
                          "nfe", "seconds"}) {
    EXPECT_TRUE(report.contains(key)) << key;
  }
  EXPECT_EQ(report["n"], 128);
  EXPECT_EQ(report["nfe"], 40);  // rk4, 10 steps
  EXPECT_TRUE(std::isfinite(report["nll_nats"].get<double>()));
}

TEST(Programs, SameSeedGivesIdenticalSamples) {
  const auto& checkpoint = trained_checkpoint();
  auto dir = scratch("seeds");
  for (const char* name : {"a", "b"}) {
    auto r = run("fm-sample", "--checkpoint " + checkpoint + " --num 50 --seed 7 --out " + dir +
                                  "/" + name + ".npy");
    ASSERT_EQ(r.code, 0) << r.output;
  }
  EXPECT_TRUE(torch::equal(fm::read_npy(dir + "/a.npy"), fm::read_npy(dir + "/b.npy")));
}

TEST(Programs, CsvAndPngOutputs) {
  const auto& checkpoint = trained_checkpoint();
  auto dir = scratch("formats");
  EXPECT_EQ(
      run("fm-sample", "--checkpoint " + checkpoint + " --num 20 --out " + dir + "/s.csv").code, 0);
  EXPECT_EQ(
      run("fm-sample", "--checkpoint " + checkpoint + " --num 20 --out " + dir + "/s.png").code, 0);
  std::ifstream csv(dir + "/s.csv");
  int lines = 0;
  for (std::string line; std::getline(csv, line);) ++lines;
  EXPECT_EQ(lines, 20);
  EXPECT_GT(fs::file_size(dir + "/s.png"), 100u);
}

TEST(Programs, BadUsageExitsTwo) {
  EXPECT_EQ(run("fm-train", "").code, 2);  // --config is required
  auto r = run("fm-train", "--config x.json --no-such-flag");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("fm-train: error: The following argument was not expected: "
                          "--no-such-flag"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(run("fm-eval", "--checkpoint " + trained_checkpoint() + " --estimator magic").code, 2);
  EXPECT_EQ(run("fm-train", "--help").code, 0);
}

TEST(Programs, BadConfigExitsTwoNamingTheKey) {
  auto dir = scratch("bad_config");
  auto config = tiny_moons();
  config["train"]["lr"] = 0.1;  // belongs in train.optimizer
  auto r = run("fm-train", "--config " + write_config(dir, config) + " --out " + dir + "/out");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("unknown key 'train.lr' (did you mean 'train.optimizer.lr'?)"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(dir + "/out"));

  // A bad value names the config file it is in, or the --set that gave it,
  // also when the model finds it only once it sees the data.
  config = tiny_moons();
  config["model"]["hidden"] = "wide";
  const auto bad_file = write_config(dir, config);
  r = run("fm-train", "--config " + bad_file + " --out " + dir + "/out");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("fm-train: error: config '" + bad_file +
                          "': key 'model.hidden' = \"wide\" must be an integer"),
            std::string::npos)
      << r.output;
  r = run("fm-train", "--config " + bad_file + " --set model.hidden=-3 --out " + dir + "/out");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("fm-train: error: --set model.hidden=-3: key 'model.hidden' = -3"),
            std::string::npos)
      << r.output;
  // A value the file left at its default, rejected because of a --set of
  // another key of its section: both are named.
  r = run("fm-train", "--config " + bad_file + " --set model.hidden=8 --set 'model={\"type\": " +
                          "\"mlp\", \"depth\": -1}' --out " + dir + "/out");
  EXPECT_NE(r.output.find("--set model={\"type\": \"mlp\", \"depth\": -1}: key 'model.depth'"),
            std::string::npos)
      << r.output;
  config = tiny_moons();
  config["model"] = {{"type", "unet"}};
  const auto unet_file = write_config(dir, config);
  r = run("fm-train", "--config " + unet_file + " --set model.groups=4 --out " + dir + "/out");
  EXPECT_NE(r.output.find("config '" + unet_file +
                          "' with --set model.groups=4: model: type 'unet' needs image data"),
            std::string::npos)
      << r.output;
  // A program's own flags are named as they were typed.
  r = run("fm-eval", "--checkpoint " + trained_checkpoint() + " --split foo");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("fm-eval: error: --split foo: key 'eval.split' = \"foo\""),
            std::string::npos)
      << r.output;

  if (!torch::cuda::is_available()) {  // the device is checked when the model is built
    config = tiny_moons();
    config["device"] = "cuda";
    const auto cuda_file = write_config(dir, config);
    r = run("fm-train", "--config " + cuda_file + " --out " + dir + "/out");
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.output.find("config '" + cuda_file + "': key 'device' = \"cuda\""),
              std::string::npos)
        << r.output;
    EXPECT_FALSE(fs::exists(dir + "/out"));
  }

  r = run("fm-train", "--config " + write_config(dir, tiny_moons()) + " --set model.depth=-1" +
                          " --out " + dir + "/out");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("model.depth"), std::string::npos) << r.output;

  r = run("fm-train", "--config " + dir + "/missing.json");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("missing.json"), std::string::npos) << r.output;
}

TEST(Programs, BadInputFilesExitTwoNamingTheFile) {
  auto dir = scratch("bad_files");
  std::ofstream(dir + "/junk.pt") << "junk";
  auto r = run("fm-sample", "--checkpoint " + dir + "/junk.pt --out " + dir + "/s.npy");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("junk.pt"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir + "/s.npy"));

  std::ofstream(dir + "/table.csv") << "a,b\n1,2\n3,x\n4,5\n";
  auto config = tiny_moons();
  config["data"] = {{"type", "table"}, {"train", dir + "/table.csv"}};
  r = run("fm-train", "--config " + write_config(dir, config) + " --out " + dir + "/out");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("table.csv"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("line 3"), std::string::npos) << r.output;

  r = run("fm-sample", "--checkpoint " + trained_checkpoint() + " --out " + dir + "/s.txt");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find(".npy, .csv or .png"), std::string::npos) << r.output;
}

// A solve that blows up is a runtime failure (exit 1) and leaves no output file.
TEST(Programs, RuntimeFailureExitsOneWithoutPartialOutput) {
  auto dir = scratch("runtime_failure");
  auto r = run("fm-sample", "--checkpoint " + trained_checkpoint() +
                                " --solver dopri5 --set sample.max_steps=1 --set sample.rtol=1e-9"
                                " --set sample.atol=1e-9 --out " +
                                dir + "/s.npy");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_FALSE(fs::exists(dir + "/s.npy"));
  EXPECT_FALSE(has_temporary_files(dir));
}

// Output paths that cannot be written are refused before any work (exit 2,
// naming the flag), not after a long solve; a run that fails while setting
// up leaves no output folder behind.
TEST(Programs, UnwritableOutputsAreRefusedBeforeTheWork) {
  auto dir = scratch("unwritable");
  std::ofstream(dir + "/file") << "x";
  auto r = run("fm-train",
               "--config " + write_config(dir, tiny_moons()) + " --out " + dir + "/file/run");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("(--out)"), std::string::npos) << r.output;

  r = run("fm-sample",
          "--checkpoint " + trained_checkpoint() + " --num 10 --out " + dir + "/file/s.npy");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--out '" + dir + "/file/s.npy': cannot create its folder"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("sampled"), std::string::npos) << "sampled before failing: " << r.output;

  r = run("fm-eval", "--checkpoint " + trained_checkpoint() + " --limit 10 --json " + dir);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--json '" + dir + "' is a folder"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("bits/dim"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("nats"), std::string::npos) << "evaluated before failing: " << r.output;

  // A config error before the work: no output folder is left behind.
  r = run("fm-sample",
          "--checkpoint " + trained_checkpoint() + " --solver magic --out " + dir + "/made/s.npy");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_FALSE(fs::exists(dir + "/made")) << "left behind: " << dir << "/made";
  r = run("fm-eval",
          "--checkpoint " + trained_checkpoint() + " --split magic --json " + dir + "/made/e.json");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_FALSE(fs::exists(dir + "/made")) << "left behind: " << dir << "/made";
  // ... and a good run makes the missing folders.
  r = run("fm-sample",
          "--checkpoint " + trained_checkpoint() + " --num 5 --out " + dir + "/made/deeper/s.npy");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(fs::exists(dir + "/made/deeper/s.npy"));

  // A config error found after the output folder was made: the folder goes.
  auto bad = tiny_moons();
  bad["model"]["hidden"] = 10000000;
  bad["model"]["depth"] = 4;
  r = run("fm-train", "--config " + write_config(dir, bad) + " --out " + dir + "/new/run");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_FALSE(fs::exists(dir + "/new/run")) << "left behind: " << dir << "/new/run";
}

// --steps and --step-size together must agree, as the two config keys must.
TEST(Programs, StepsAndStepSizeFlagsMustAgree) {
  auto dir = scratch("steps_and_size");
  auto r = run("fm-sample", "--checkpoint " + trained_checkpoint() +
                                " --num 10 --solver euler --steps 10 --step-size 0.25 --out " +
                                dir + "/s.npy");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("disagree"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir + "/s.npy"));
  r = run("fm-sample", "--checkpoint " + trained_checkpoint() +
                           " --num 10 --solver euler --steps 4 --step-size 0.25 --out " + dir +
                           "/s.npy");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("nfe 4"), std::string::npos) << r.output;
  // Tolerances with a fixed-step solver are said to be unused.
  r = run("fm-sample", "--checkpoint " + trained_checkpoint() +
                           " --num 10 --solver rk4 --steps 4 --rtol 1e-3 --out " + dir + "/t.npy");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("'rk4' takes fixed steps and does not use them"), std::string::npos)
      << r.output;
  // Also when the fixed-step solver is the checkpoint's, not a flag's.
  r = run("fm-sample", "--checkpoint " + trained_checkpoint() +
                           " --num 10 --steps 4 --rtol 1e-3 --out " + dir + "/u.npy");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("takes fixed steps and does not use them"), std::string::npos)
      << r.output;
}

// Grid flags are checked before sampling and name themselves.
TEST(Programs, GridFlagsAreCheckedBeforeSampling) {
  auto dir = scratch("grid_flags");
  auto r = run("fm-sample", "--checkpoint " + trained_checkpoint() +
                                " --num 10 --grid-rows 3 --grid-cols 3 --out " + dir + "/g.png");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--grid-rows 3 x --grid-cols 3 = 9 cells cannot hold 10 samples"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("sampled"), std::string::npos) << r.output;
  r = run("fm-sample", "--checkpoint " + trained_checkpoint() +
                           " --num 10 --grid-rows 2 --out " + dir + "/g.npy");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("is not a .png"), std::string::npos) << r.output;
  r = run("fm-sample", "--checkpoint " + trained_checkpoint() +
                           " --num 10 --grid-rows -1 --out " + dir + "/g.png");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--grid-rows"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir + "/g.png"));
  EXPECT_FALSE(fs::exists(dir + "/g.npy"));
}

}  // namespace
