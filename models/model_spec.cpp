// ModelSpec: parameter count, range checks, and the dispatch of MODEL (directory, file, preset).
#include "models/model_spec.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>

#include "base/checked.h"
#include "base/error.h"
#include "models/family.h"
#include "models/gguf.h"

namespace ferry {

std::uint64_t ModelSpec::parameter_count() const {
  if (family != "gpt2") return model_family(*this).parameter_count(*this);
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

namespace {

// The LLaMA family's own keys: heads, grouped KV heads, head width, RoPE and Granite's multipliers.
template <class Bad>
void validate_llama(const ModelSpec& s, const Bad& bad) {
  if (s.num_kv_heads < 0 || s.num_kv_heads > s.num_heads || s.num_heads % s.kv_heads() != 0)
    bad("model.num_kv_heads", std::to_string(s.num_kv_heads) + " must divide num_heads " + std::to_string(s.num_heads));
  if (s.head_dim_override < 0 || s.head_dim_override > kMaxHiddenSize)
    bad("model.head_dim", "must be positive and at most " + std::to_string(kMaxHiddenSize));
  if (s.head_dim_override == 0 && s.hidden_size % s.num_heads != 0)
    bad("model.num_heads", "hidden_size " + std::to_string(s.hidden_size) + " is not divisible by num_heads " +
                               std::to_string(s.num_heads) + " (give head_dim)");
  if (s.head_dim() % 2 != 0) bad("model.head_dim", "must be even for rotary embeddings (got " + std::to_string(s.head_dim()) + ")");
  if (static_cast<std::int64_t>(s.num_heads) * s.head_dim() > kMaxHiddenSize)
    bad("model.num_heads", "num_heads x head_dim is above the limit " + std::to_string(kMaxHiddenSize));
  if (s.norm != "rmsnorm") bad("model.norm", "unsupported norm '" + s.norm + "' for family llama (supported: rmsnorm)");
  if (!(s.rope_theta > 0.f) || !std::isfinite(s.rope_theta)) bad("model.rope_theta", "must be a positive finite number");
  if (s.rope_scaling != "" && s.rope_scaling != "linear" && s.rope_scaling != "llama3")
    bad("model.rope_scaling", "unsupported type '" + s.rope_scaling + "' (supported: linear, llama3)");
  for (const auto& [key, v] : {std::pair<const char*, float>{"model.rope_factor", s.rope_factor},
                               {"model.rope_low_freq_factor", s.rope_low_freq_factor},
                               {"model.rope_high_freq_factor", s.rope_high_freq_factor},
                               {"model.embedding_multiplier", s.embedding_multiplier},
                               {"model.residual_multiplier", s.residual_multiplier},
                               {"model.logits_scaling", s.logits_scaling}})
    if (!(v > 0.f) || !std::isfinite(v)) bad(key, "must be a positive finite number");
  if (s.rope_scaling == "llama3" && !(s.rope_high_freq_factor > s.rope_low_freq_factor))
    bad("model.rope_high_freq_factor", "must be above rope_low_freq_factor");
  if (s.rope_original_context <= 0) bad("model.rope_original_context", "must be positive");
  if (!(s.attention_multiplier >= 0.f) || !std::isfinite(s.attention_multiplier))
    bad("model.attention_multiplier", "must be a finite number >= 0 (0 = 1/sqrt(head_dim))");
}

// The BERT family's own keys (the attention and norm checks are GPT-2's, in validate): a head it
// knows, labels for the classification heads.
template <class Bad>
void validate_bert(const ModelSpec& s, const Bad& bad) {
  if (s.type_vocab_size <= 0 || s.type_vocab_size > kMaxVocabSize)
    bad("model.type_vocab_size", "must be positive and at most " + std::to_string(kMaxVocabSize));
  const auto& heads = ModelSpec::head_names();
  if (std::find(heads.begin(), heads.end(), s.head) == heads.end()) {
    std::string list;
    for (const std::string& h : heads) list += (list.empty() ? "" : ", ") + h;
    bad("model.head", "unknown head '" + s.head + "' (known: " + list + ")");
  }
  const bool classifier = s.head == "sequence_classification" || s.head == "token_classification";
  if (classifier && s.labels.empty()) bad("model.num_labels", "the " + s.head + " head needs at least one label");
  if (classifier && s.labels.size() > static_cast<std::size_t>(kMaxVocabSize))
    bad("model.num_labels", "more than " + std::to_string(kMaxVocabSize) + " labels");
}

}  // namespace

const std::vector<std::string>& ModelSpec::head_names() {
  static const std::vector<std::string> names{"model", "masked_lm", "sequence_classification", "token_classification",
                                              "question_answering"};
  return names;
}

void validate(const ModelSpec& s, const std::string& origin) {
  auto bad = [&](const std::string& key, const std::string& msg) {
    throw BadInput(origin + ": " + key + ": " + msg);
  };
  if (s.family != "gpt2" && s.family != "llama" && s.family != "bert")
    bad("model.family", "unsupported family '" + s.family + "' (supported: gpt2, llama, bert)");
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
  if (s.family == "llama") {
    validate_llama(s, bad);
  } else {  // gpt2 and bert: heads of width hidden / num_heads, LayerNorm
    if (s.hidden_size % s.num_heads != 0)
      bad("model.num_heads", "hidden_size " + std::to_string(s.hidden_size) + " is not divisible by num_heads " +
                                 std::to_string(s.num_heads));
    if (s.norm != "layernorm")
      bad("model.norm", "unsupported norm '" + s.norm + "' for family " + s.family + " (supported: layernorm)");
    if (s.family == "bert") validate_bert(s, bad);
  }
  if (!(s.norm_epsilon > 0.f) || !std::isfinite(s.norm_epsilon))
    bad("model.norm_epsilon", "must be a positive finite number");
  if (s.family != "llama" && s.activation != ops::Activation::GeluTanh && s.activation != ops::Activation::GeluErf)
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
  if (!model.empty() && is_gguf_path(model)) return gguf_model_spec(model);
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
