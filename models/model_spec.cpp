// ModelSpec: parameter count, range checks, and the dispatch of MODEL (directory, file, preset).
#include "models/model_spec.h"

#include <cmath>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>

#include "base/checked.h"
#include "base/error.h"

namespace ferry {

std::uint64_t ModelSpec::parameter_count() const {
  const auto V = static_cast<std::uint64_t>(vocab_size), C = static_cast<std::uint64_t>(context_length),
             H = static_cast<std::uint64_t>(hidden_size), F = static_cast<std::uint64_t>(ffn_size),
             L = static_cast<std::uint64_t>(num_layers);
  // A dimension that does not fit (negative, or so large the count wraps) must not print a wrapped
  // count: `inspect` once showed a hidden size of 800,000,000 as a model of 9.3 million TiB.
  const auto fail = [&]() -> std::uint64_t {
    throw BadInput("model " + name + ": parameter count does not fit in 64 bits (vocab_size " +
                   std::to_string(vocab_size) + ", context_length " + std::to_string(context_length) +
                   ", hidden_size " + std::to_string(hidden_size) + ", num_layers " + std::to_string(num_layers) +
                   ", ffn_size " + std::to_string(ffn_size) + ")");
  };
  if (vocab_size < 0 || context_length < 0 || hidden_size < 0 || ffn_size < 0 || num_layers < 0) return fail();
  const auto mul = [&](std::uint64_t a, std::uint64_t b) {
    const std::optional<std::uint64_t> r = checked_mul(a, b);
    return r ? *r : fail();
  };
  const auto add = [&](std::initializer_list<std::uint64_t> terms) {
    std::uint64_t sum = 0;
    for (const std::uint64_t t : terms) {
      const std::optional<std::uint64_t> r = checked_add(sum, t);
      sum = r ? *r : fail();
    }
    return sum;
  };
  // per block: ln_1, ln_2 (2H each); c_attn [H,3H] + 3H; attn c_proj [H,H] + H; c_fc [H,F] + F;
  // mlp c_proj [F,H] + H.
  const std::uint64_t HH = mul(H, H), HF = mul(H, F);
  const std::uint64_t block = add({mul(4, H), mul(3, HH), mul(3, H), HH, H, HF, F, HF, H});
  const std::uint64_t VH = mul(V, H);
  return add({VH, mul(C, H), mul(2, H), mul(L, block), tied_embeddings ? 0 : VH});
}

void validate(const ModelSpec& s, const std::string& origin) {
  auto bad = [&](const std::string& key, const std::string& msg) {
    throw BadInput(origin + ": " + key + ": " + msg);
  };
  if (s.family != "gpt2") bad("model.family", "unsupported family '" + s.family + "' (supported: gpt2)");
  // In range: positive and at most the limit (model_spec.h), so every size below is exact.
  const auto in_range = [&](const char* key, int v, int limit) {
    if (v <= 0) bad(key, "must be positive (got " + std::to_string(v) + ")");
    if (v > limit) bad(key, std::to_string(v) + " is above the limit " + std::to_string(limit));
  };
  in_range("model.vocab_size", s.vocab_size, kMaxVocabSize);
  in_range("model.context_length", s.context_length, kMaxContextLength);
  in_range("model.hidden_size", s.hidden_size, kMaxHiddenSize);
  in_range("model.num_layers", s.num_layers, kMaxNumLayers);
  in_range("model.num_heads", s.num_heads, kMaxHiddenSize);
  in_range("model.ffn_size", s.ffn_size, kMaxFfnSize);
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
  // Backstop for the limits above: the whole model's bytes must be countable.
  if (!checked_mul(s.parameter_count(), dtype_size(s.dtype))) bad("model", "byte size does not fit in 64 bits");
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
