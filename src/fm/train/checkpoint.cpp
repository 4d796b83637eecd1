#include "fm/train/checkpoint.h"

#include <zlib.h>

#include <fstream>

#include "fm/common/error.h"
#include "fm/io/atomic_file.h"

namespace fm {
namespace {

// CRC-32 of every parameter's and buffer's bytes, in registration order.
// LibTorch's archive reader does not check its own per-entry checksums, so
// without this a damaged byte inside a weight would load silently and give
// wrong samples and likelihoods.
int64_t weights_crc32(const torch::nn::Module& module) {
  uLong crc = crc32(0L, Z_NULL, 0);
  auto add = [&](const torch::Tensor& t) {
    const auto bytes = t.detach().to(torch::kCPU).contiguous();
    crc = crc32_z(crc, static_cast<const Bytef*>(bytes.data_ptr()), bytes.nbytes());
  };
  for (const auto& p : module.parameters()) add(p);
  for (const auto& b : module.buffers()) add(b);
  return static_cast<int64_t>(crc);
}

// Compares a loaded module with the checksum saved beside it (checkpoints
// written before checksums existed have none and are accepted as they are).
void check_weights(const nlohmann::json& checksums, const char* name,
                   const torch::nn::Module& module, const std::string& path) {
  if (!checksums.is_object() || !checksums.contains(name)) return;
  if (checksums.at(name).get<int64_t>() != weights_crc32(module)) {
    throw InputError("checkpoint '" + path + "' is damaged: the " + name +
                     " weights do not match the checksum saved with them");
  }
}

nlohmann::json meta_to_json(const CheckpointMeta& m) {
  return {{"format_version", kCheckpointFormatVersion},
          {"config", m.config},
          {"step", m.step},
          {"example_shape", m.example_shape},
          {"standardizer", m.standardizer.to_json()},
          {"best_val_loss", std::isfinite(m.best_val_loss) ? nlohmann::json(m.best_val_loss)
                                                           : nlohmann::json(nullptr)},
          {"has_ema", m.has_ema}};
}

CheckpointMeta meta_from_json(const nlohmann::json& j, const std::string& path) {
  auto version = j.value("format_version", int64_t{-1});
  if (version != kCheckpointFormatVersion) {
    throw InputError("checkpoint '" + path + "': format version " + std::to_string(version) +
                     " is not supported (this build reads version " +
                     std::to_string(kCheckpointFormatVersion) + ")");
  }
  CheckpointMeta m;
  m.config = j.at("config");
  m.step = j.at("step").get<int64_t>();
  m.example_shape = j.at("example_shape").get<std::vector<int64_t>>();
  m.standardizer = Standardizer::from_json(j.at("standardizer"));
  m.best_val_loss = j.at("best_val_loss").is_null() ? INFINITY : j.at("best_val_loss").get<double>();
  m.has_ema = j.at("has_ema").get<bool>();
  return m;
}

torch::serialize::InputArchive open_archive(const std::string& path) {
  torch::serialize::InputArchive archive;
  std::ifstream probe(path, std::ios::binary);
  if (!probe) throw InputError("checkpoint '" + path + "': cannot read file");
  try {
    archive.load_from(path);
  } catch (const std::exception&) {
    // LibTorch's own message quotes the damaged bytes; the file name says more.
    throw InputError("checkpoint '" + path + "' is corrupt or not a flowmatch checkpoint "
                     "(LibTorch could not read it)");
  }
  return archive;
}

}  // namespace

void save_checkpoint(const std::string& path, const CheckpointState& state) {
  torch::serialize::OutputArchive archive;
  auto meta = meta_to_json(state.meta);
  meta["checksums"]["model"] = weights_crc32(*state.model);
  if (state.ema) meta["checksums"]["ema"] = weights_crc32(*state.ema);
  archive.write("meta", c10::IValue(meta.dump()));

  torch::serialize::OutputArchive model_archive;
  state.model->save(model_archive);
  archive.write("model", model_archive);
  if (state.ema) {
    torch::serialize::OutputArchive ema_archive;
    state.ema->save(ema_archive);
    archive.write("ema", ema_archive);
  }
  if (state.optimizer) {
    torch::serialize::OutputArchive optimizer_archive;
    state.optimizer->save(optimizer_archive);
    archive.write("optimizer", optimizer_archive);
  }
  if (state.generator_state.defined()) archive.write("generator", state.generator_state);
  if (state.rank_generator_states.defined()) {
    archive.write("rank_generators", state.rank_generator_states);
  }

  write_atomically(path, [&](const std::string& tmp) { archive.save_to(tmp); });
}

CheckpointMeta read_checkpoint_meta(const std::string& path) {
  auto archive = open_archive(path);
  c10::IValue meta;
  if (!archive.try_read("meta", meta) || !meta.isString()) {
    throw InputError("checkpoint '" + path + "' has no flowmatch metadata");
  }
  try {
    return meta_from_json(nlohmann::json::parse(meta.toStringRef()), path);
  } catch (const nlohmann::json::exception& e) {
    throw InputError("checkpoint '" + path + "': corrupt metadata (" + e.what() + ")");
  }
}

void load_checkpoint(const std::string& path, CheckpointState& state) {
  auto archive = open_archive(path);
  nlohmann::json checksums;
  c10::IValue meta;
  if (archive.try_read("meta", meta) && meta.isString()) {
    auto j = nlohmann::json::parse(meta.toStringRef(), nullptr, /*allow_exceptions=*/false);
    if (j.is_object()) checksums = j.value("checksums", nlohmann::json());
  }
  try {
    torch::serialize::InputArchive model_archive;
    archive.read("model", model_archive);
    state.model->load(model_archive);
    if (state.ema) {
      torch::serialize::InputArchive ema_archive;
      archive.read("ema", ema_archive);
      state.ema->load(ema_archive);
    }
    if (state.optimizer) {
      torch::serialize::InputArchive optimizer_archive;
      archive.read("optimizer", optimizer_archive);
      state.optimizer->load(optimizer_archive);
    }
    archive.try_read("generator", state.generator_state);
    archive.try_read("rank_generators", state.rank_generator_states);
  } catch (const c10::Error& e) {
    throw InputError("checkpoint '" + path + "' does not match the network or optimizer (" +
                     std::string(e.what_without_backtrace()) + ")");
  } catch (const std::exception& e) {
    throw InputError("checkpoint '" + path + "' is corrupt (" + std::string(e.what()) + ")");
  }
  check_weights(checksums, "model", *state.model, path);
  if (state.ema) check_weights(checksums, "ema", *state.ema, path);
}

}  // namespace fm
