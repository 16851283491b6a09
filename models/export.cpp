// Hugging Face export: config.json (the family's keys) + one model.safetensors, streamed.
#include "models/export.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "base/error.h"
#include "base/progress.h"
#include "models/family.h"
#include "models/safetensors.h"

namespace ferry {

std::string hf_config_json(const ModelSpec& spec) { return model_family(spec).hf_config_json(spec); }

void export_hf(const ModelSpec& spec, WeightSource& source, const std::string& out_dir, bool progress) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec || !fs::is_directory(out_dir))
    throw BadInput(out_dir + ": cannot create output directory" + (ec ? ": " + ec.message() : std::string()));

  const std::string config = (fs::path(out_dir) / "config.json").string();
  {
    std::ofstream out(config, std::ios::binary | std::ios::trunc);
    if (!out) throw BadInput(config + ": cannot write: " + std::strerror(errno));
    out << hf_config_json(spec);
    out.flush();
    if (!out) throw BadInput(config + ": cannot write");
  }

  const std::vector<TensorInfo> infos = model_family(spec).tensors(spec);
  std::vector<SafetensorsTensor> tensors;
  std::uint64_t total = 0;
  for (const TensorInfo& t : infos) {
    tensors.push_back(SafetensorsTensor{t.name, spec.dtype, t.shape});
    total += tensors.back().bytes();
  }
  const std::string file = (fs::path(out_dir) / "model.safetensors").string();
  Progress bar("export " + spec.name, total, progress);
  write_safetensors(
      file, tensors, {{"format", "pt"}},
      [&](std::size_t i, void* dst) { source.read(infos[i].name, infos[i].shape, spec.dtype, dst); },
      [&](std::size_t i) { bar.advance(tensors[i].bytes()); });
  bar.finish();
}

}  // namespace ferry
