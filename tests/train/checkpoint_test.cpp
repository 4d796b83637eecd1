// Checkpoints restore training exactly (known-answers T3) and refuse what is
// not theirs.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "fm/common/error.h"
#include "fm/common/random.h"
#include "fm/train/checkpoint.h"

namespace fm {
namespace {

// One float64 scalar weight w; the "network" is irrelevant to T3.
class ScalarModel : public VelocityModel {
 public:
  ScalarModel() { w_ = register_parameter("w", torch::zeros({}, torch::kFloat64)); }
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor&) override { return x * w_; }
  std::string describe() const override { return "scalar"; }
  torch::Tensor w_;
};

std::string temp_path(const std::string& name) {
  return (std::filesystem::path(FM_BINARY_DIR) / name).string();
}

// One Adam step on the loss (w - 3)^2; returns the new w.
double adam_step(ScalarModel& model, torch::optim::Adam& adam) {
  adam.zero_grad();
  auto loss = (model.w_ - 3.0).pow(2);
  loss.backward();
  adam.step();
  return model.w_.item<double>();
}

torch::optim::AdamOptions t3_options() {
  return torch::optim::AdamOptions(0.1).betas({0.9, 0.999}).eps(1e-8);
}

// T3: Adam lr 0.1 on (w - 3)^2 from w = 0, float64: the known four iterates.
TEST(Checkpoint, AdamIteratesMatchKnownAnswers) {
  ScalarModel model;
  torch::optim::Adam adam(model.parameters(), t3_options());
  const double expected[] = {0.0999999998, 0.1998972926, 0.2996184765, 0.3990864689};
  for (double e : expected) EXPECT_NEAR(adam_step(model, adam), e, 1e-10);
}

// T3: saving after step 2 and loading into fresh objects continues bit for bit
// (moments and step count restored: a fresh state would give 0.2998972924).
TEST(Checkpoint, ResumedAdamContinuesBitForBit) {
  ScalarModel reference;
  torch::optim::Adam reference_adam(reference.parameters(), t3_options());
  std::vector<double> uninterrupted;
  for (int i = 0; i < 4; ++i) uninterrupted.push_back(adam_step(reference, reference_adam));

  ScalarModel first;
  torch::optim::Adam first_adam(first.parameters(), t3_options());
  adam_step(first, first_adam);
  adam_step(first, first_adam);
  auto generator = make_generator(7);
  auto before = torch::rand({3}, generator);  // advance the stream
  CheckpointState saved;
  saved.meta.config = {{"name", "t3"}};
  saved.meta.step = 2;
  saved.meta.example_shape = {1};
  saved.model = &first;
  saved.optimizer = &first_adam;
  saved.generator_state = generator.get_state();
  auto path = temp_path("t3_checkpoint.pt");
  save_checkpoint(path, saved);

  ScalarModel resumed;
  torch::optim::Adam resumed_adam(resumed.parameters(), t3_options());
  CheckpointState loaded;
  loaded.model = &resumed;
  loaded.optimizer = &resumed_adam;
  load_checkpoint(path, loaded);
  auto meta = read_checkpoint_meta(path);
  EXPECT_EQ(meta.step, 2);
  EXPECT_EQ(meta.config["name"], "t3");
  EXPECT_EQ(resumed.w_.item<double>(), uninterrupted[1]);
  EXPECT_EQ(adam_step(resumed, resumed_adam), uninterrupted[2]);  // bitwise
  EXPECT_EQ(adam_step(resumed, resumed_adam), uninterrupted[3]);

  // The random stream continues where it stopped.
  auto restored = make_generator(0);
  restored.set_state(loaded.generator_state);
  auto next = torch::rand({3}, generator), next_restored = torch::rand({3}, restored);
  EXPECT_TRUE(torch::equal(next, next_restored));
}

TEST(Checkpoint, RefusesMissingAndForeignFilesByName) {
  try {
    read_checkpoint_meta(temp_path("no_such_checkpoint.pt"));
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_checkpoint.pt"), std::string::npos);
  }
  auto junk = temp_path("junk_checkpoint.pt");
  std::ofstream(junk) << "not a checkpoint";
  try {
    read_checkpoint_meta(junk);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("junk_checkpoint.pt"), std::string::npos);
  }
}

// A damaged byte inside a saved weight (LibTorch's reader does not check the
// archive's own CRCs) must stop the load, naming the file; the intact file loads.
TEST(Checkpoint, DamagedWeightBytesAreRefusedByChecksum) {
  ScalarModel model, ema, loaded, loaded_ema;
  // A value whose 8 bytes appear once in the file, so the test can find them.
  const double marker = 1234.56789012345;
  {
    torch::NoGradGuard no_grad;
    model.w_.fill_(marker);
    ema.w_.fill_(-marker);
  }
  CheckpointState state;
  state.model = &model;
  state.ema = &ema;
  state.meta.has_ema = true;
  const auto path = temp_path("damaged_weights.pt");
  save_checkpoint(path, state);

  CheckpointState target;
  target.model = &loaded;
  target.ema = &loaded_ema;
  load_checkpoint(path, target);
  EXPECT_EQ(loaded.w_.item<double>(), marker);
  EXPECT_EQ(loaded_ema.w_.item<double>(), -marker);

  for (double value : {marker, -marker}) {
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    const std::string pattern(reinterpret_cast<const char*>(&value), sizeof value);
    const auto at = bytes.find(pattern);
    ASSERT_NE(at, std::string::npos);
    ASSERT_EQ(bytes.find(pattern, at + 1), std::string::npos);
    std::string damaged = bytes;
    damaged[at + 3] = static_cast<char>(damaged[at + 3] ^ 0x10);
    const auto damaged_path = temp_path("damaged_weights_flipped.pt");
    std::ofstream(damaged_path, std::ios::binary) << damaged;
    try {
      load_checkpoint(damaged_path, target);
      FAIL() << "expected InputError for a flipped byte in " << value;
    } catch (const InputError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("damaged_weights_flipped.pt"), std::string::npos) << message;
      EXPECT_NE(message.find(value > 0 ? "the model weights" : "the ema weights"),
                std::string::npos)
          << message;
    }
  }
}

}  // namespace
}  // namespace fm
