// ModelSpec: parameter count, range checks, and the dispatch of MODEL (directory, file, preset).
#include "models/model_spec.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>

#include "base/error.h"

namespace ferry {

std::uint64_t ModelSpec::parameter_count() const {
  const std::uint64_t V = static_cast<std::uint64_t>(vocab_size), C = static_cast<std::uint64_t>(context_length),
                      H = static_cast<std::uint64_t>(hidden_size), F = static_cast<std::uint64_t>(ffn_size),
                      L = static_cast<std::uint64_t>(num_layers);
  // per block: ln_1, ln_2 (2H each); c_attn [H,3H] + 3H; attn c_proj [H,H] + H; c_fc [H,F] + F;
  // mlp c_proj [F,H] + H.
  const std::uint64_t block = 4 * H + 3 * H * H + 3 * H + H * H + H + H * F + F + F * H + H;
  std::uint64_t n = V * H + C * H + 2 * H + L * block;
  if (!tied_embeddings) n += V * H;
  return n;
}

void validate(const ModelSpec& s, const std::string& origin) {
  auto bad = [&](const std::string& key, const std::string& msg) {
    throw BadInput(origin + ": " + key + ": " + msg);
  };
  auto positive = [&](const char* key, int v) {
    if (v <= 0) bad(key, "must be positive (got " + std::to_string(v) + ")");
  };
  if (s.family != "gpt2") bad("model.family", "unsupported family '" + s.family + "' (supported: gpt2)");
  positive("model.vocab_size", s.vocab_size);
  positive("model.context_length", s.context_length);
  positive("model.hidden_size", s.hidden_size);
  positive("model.num_layers", s.num_layers);
  positive("model.num_heads", s.num_heads);
  positive("model.ffn_size", s.ffn_size);
  if (s.hidden_size % s.num_heads != 0)
    bad("model.num_heads", "hidden_size " + std::to_string(s.hidden_size) + " is not divisible by num_heads " +
                               std::to_string(s.num_heads));
  if (s.norm != "layernorm") bad("model.norm", "unsupported norm '" + s.norm + "' (supported: layernorm)");
  if (!(s.norm_epsilon > 0.f) || !std::isfinite(s.norm_epsilon))
    bad("model.norm_epsilon", "must be a positive finite number");
  if (s.activation != ops::Activation::GeluTanh && s.activation != ops::Activation::GeluErf)
    bad("model.activation", "must be gelu_tanh or gelu");
  if (s.dtype != DType::F32 && s.dtype != DType::F16 && s.dtype != DType::BF16)
    bad("model.dtype", "must be f32, f16 or bf16");
  if (s.weights.random && !s.weights.path.empty())
    bad("weights.path, weights.random", "give either path or random = true, not both");
  if (!s.weights.random && s.weights.path.empty()) bad("weights.path", "needs path = \"...\" or random = true");
  // Tensor sizes must stay addressable: the largest matrix has max(V, C, F, 3H) * H elements.
  const double biggest = static_cast<double>(std::max({s.vocab_size, s.context_length, s.ffn_size, 3 * s.hidden_size})) *
                         static_cast<double>(s.hidden_size);
  if (biggest > static_cast<double>(std::numeric_limits<std::int64_t>::max() / 8))
    bad("model", "sizes too large");
}

ModelSpec load_model_spec(const std::string& model) {
  std::error_code ec;
  const std::filesystem::path p(model);
  if (!model.empty() && std::filesystem::is_directory(p, ec)) return parse_hf_config(model);
  if (!model.empty() && std::filesystem::is_regular_file(p, ec)) return parse_model_toml_file(model);
  for (const std::string& n : preset_names())
    if (n == model) {
      ModelSpec spec = parse_model_toml_string(preset_toml(n), "preset " + n, "");
      spec.source = "preset " + n;
      return spec;
    }
  std::string list;
  for (const std::string& n : preset_names()) list += (list.empty() ? "" : ", ") + n;
  throw BadInput("model '" + model + "': not a file, a directory or a preset (presets: " + list + ")");
}

}  // namespace ferry
