// Hugging Face export: config.json (GPT2Config keys) + one model.safetensors, streamed.
#include "models/export.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/progress.h"
#include "models/safetensors.h"

namespace ferry {

namespace {

const char* torch_dtype(DType t) {
  switch (t) {
    case DType::F16: return "float16";
    case DType::BF16: return "bfloat16";
    default: return "float32";
  }
}

}  // namespace

std::string hf_config_json(const ModelSpec& spec) {
  nlohmann::ordered_json j;
  j["model_type"] = "gpt2";
  j["architectures"] = {"GPT2LMHeadModel"};
  j["vocab_size"] = spec.vocab_size;
  j["n_positions"] = spec.context_length;
  j["n_ctx"] = spec.context_length;
  j["n_embd"] = spec.hidden_size;
  j["n_layer"] = spec.num_layers;
  j["n_head"] = spec.num_heads;
  j["n_inner"] = spec.ffn_size;
  j["activation_function"] = spec.activation == ops::Activation::GeluErf ? "gelu" : "gelu_new";
  j["layer_norm_epsilon"] = static_cast<double>(spec.norm_epsilon);
  j["tie_word_embeddings"] = spec.tied_embeddings;
  j["torch_dtype"] = torch_dtype(spec.dtype);
  return j.dump(2) + "\n";
}

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
