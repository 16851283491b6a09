// A Hugging Face checkpoint directory's config.json -> ModelSpec (docs/model-format.md).
// GPT-2: keys as in transformers' GPT2Config: n_embd, n_layer, n_head, n_positions (or n_ctx),
// vocab_size, n_inner, layer_norm_epsilon, activation_function, tie_word_embeddings, torch_dtype.
// LLaMA, Mistral, Granite: keys as in LlamaConfig / MistralConfig / GraniteConfig (hidden_size,
// num_hidden_layers, num_attention_heads, num_key_value_heads, intermediate_size, rms_norm_eps,
// rope_theta, rope_scaling, attention_bias, head_dim, and Granite's four multipliers).
// BERT: BertConfig's keys, the head from architectures[0], labels from id2label / num_labels.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "models/model_spec.h"

namespace ferry {

namespace {

using nlohmann::json;

class Config {
 public:
  Config(const json& j, const std::string& file) : j_(j), file_(file) {}

  const json* find(const char* key) const {
    auto it = j_.find(key);
    return it == j_.end() ? nullptr : &*it;
  }
  [[noreturn]] void bad(const char* key, const std::string& msg) const {
    throw BadInput(file_ + ": " + key + ": " + msg);
  }
  // A positive integer no larger than `limit` (model_spec.h), naming the key when it is not.
  int get_int(const char* key, int limit, const char* fallback_key = nullptr) const {
    const json* v = find(key);
    const char* used = key;
    if ((!v || v->is_null()) && fallback_key) {
      v = find(fallback_key);
      used = fallback_key;
    }
    if (!v || v->is_null()) {
      if (fallback_key) bad(key, std::string("missing (and no ") + fallback_key + ")");
      bad(key, "missing");
    }
    return as_int(*v, used, limit);
  }
  int as_int(const json& v, const char* key, int limit) const {
    if (!v.is_number_integer()) bad(key, "expected an integer");
    if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(limit))
      bad(key, v.dump() + " is above the limit " + std::to_string(limit));
    const std::int64_t i = v.get<std::int64_t>();
    if (i <= 0) bad(key, "must be positive (got " + std::to_string(i) + ")");
    if (i > limit) bad(key, std::to_string(i) + " is above the limit " + std::to_string(limit));
    return static_cast<int>(i);
  }
  // A finite number (a float), or `dflt` when absent or null.
  float get_float(const char* key, float dflt) const {
    const json* v = find(key);
    if (!v || v->is_null()) return dflt;
    if (!v->is_number()) bad(key, "expected a number");
    const double d = v->get<double>();
    if (!std::isfinite(d) || std::fabs(d) > static_cast<double>(std::numeric_limits<float>::max()))
      bad(key, v->dump() + " is out of range for a float");
    return static_cast<float>(d);
  }
  bool get_bool(const char* key, bool dflt) const {
    const json* v = find(key);
    if (!v || v->is_null()) return dflt;
    if (!v->is_boolean()) bad(key, "expected true or false");
    return v->get<bool>();
  }
  std::string get_string(const char* key, const std::string& dflt) const {
    const json* v = find(key);
    if (!v || v->is_null()) return dflt;
    if (!v->is_string()) bad(key, "expected a string");
    return v->get<std::string>();
  }

 private:
  const json& j_;
  const std::string& file_;

 public:
  const std::string& file() const { return file_; }
};

DType torch_dtype(const Config& c) {
  const std::string dt = c.get_string("torch_dtype", "float32");
  if (dt == "float32") return DType::F32;
  if (dt == "float16") return DType::F16;
  if (dt == "bfloat16") return DType::BF16;
  c.bad("torch_dtype", "unsupported dtype '" + dt + "' (supported: float32, float16, bfloat16)");
}

// rope_scaling: {"rope_type" (or "type"): "linear" | "llama3", "factor", ...}; null or absent = none.
void parse_rope_scaling(const Config& c, ModelSpec& s) {
  const json* rs = c.find("rope_scaling");
  if (!rs || rs->is_null()) return;
  if (!rs->is_object()) c.bad("rope_scaling", "expected an object or null");
  const Config r(*rs, c.file());
  std::string type = r.get_string("rope_type", "");
  if (type.empty()) type = r.get_string("type", "");
  if (type == "default") return;
  if (type != "linear" && type != "llama3")
    c.bad("rope_scaling", "unsupported rope_type '" + type + "' (supported: linear, llama3)");
  s.rope_scaling = type;
  s.rope_factor = r.get_float("factor", 1.0f);
  if (type == "llama3") {
    s.rope_low_freq_factor = r.get_float("low_freq_factor", 1.0f);
    s.rope_high_freq_factor = r.get_float("high_freq_factor", 4.0f);
    s.rope_original_context = r.get_int("original_max_position_embeddings", kMaxContextLength);
  }
}

void parse_llama_config(const Config& c, const std::string& type, ModelSpec& s) {
  s.family = "llama";
  s.norm = "rmsnorm";
  s.hidden_size = c.get_int("hidden_size", kMaxHiddenSize);
  s.num_layers = c.get_int("num_hidden_layers", kMaxNumLayers);
  s.num_heads = c.get_int("num_attention_heads", kMaxHiddenSize);
  if (const json* kv = c.find("num_key_value_heads"); kv && !kv->is_null())
    s.num_kv_heads = c.as_int(*kv, "num_key_value_heads", kMaxHiddenSize);
  if (const json* hd = c.find("head_dim"); hd && !hd->is_null()) s.head_dim_override = c.as_int(*hd, "head_dim", kMaxHiddenSize);
  s.ffn_size = c.get_int("intermediate_size", kMaxFfnSize);
  s.context_length = c.get_int("max_position_embeddings", kMaxContextLength);
  s.vocab_size = c.get_int("vocab_size", kMaxVocabSize);
  s.norm_epsilon = c.get_float("rms_norm_eps", 1e-6f);
  s.rope_theta = c.get_float("rope_theta", 10000.0f);
  parse_rope_scaling(c, s);
  s.attention_bias = c.get_bool("attention_bias", false);
  if (c.get_bool("mlp_bias", false)) c.bad("mlp_bias", "MLP biases are not supported");
  s.tied_embeddings = c.get_bool("tie_word_embeddings", false);
  const std::string act = c.get_string("hidden_act", "silu");
  if (act != "silu") c.bad("hidden_act", "unsupported activation '" + act + "' (supported: silu)");
  s.dtype = torch_dtype(c);
  if (type == "mistral") {
    // A window at least as long as the context never hides a key: plain causal attention.
    if (const json* w = c.find("sliding_window"); w && !w->is_null()) {
      const int win = c.as_int(*w, "sliding_window", kMaxContextLength);
      if (win < s.context_length)
        c.bad("sliding_window", std::to_string(win) + " is shorter than max_position_embeddings " +
                                    std::to_string(s.context_length) + ": sliding-window attention is not supported");
    }
  }
  if (type == "granite") {
    s.embedding_multiplier = c.get_float("embedding_multiplier", 1.0f);
    s.residual_multiplier = c.get_float("residual_multiplier", 1.0f);
    s.attention_multiplier = c.get_float("attention_multiplier", 0.0f);
    s.logits_scaling = c.get_float("logits_scaling", 1.0f);
  }
}

// The head from architectures[0] (BertModel, BertForMaskedLM, ...); BertModel when absent.
std::string bert_head(const Config& c) {
  const json* a = c.find("architectures");
  if (!a || a->is_null()) return "model";
  if (!a->is_array() || a->empty() || !(*a)[0].is_string()) c.bad("architectures", "expected an array of strings");
  const std::string arch = (*a)[0].get<std::string>();
  if (arch == "BertModel") return "model";
  if (arch == "BertForMaskedLM" || arch == "BertForPreTraining") return "masked_lm";
  if (arch == "BertForSequenceClassification") return "sequence_classification";
  if (arch == "BertForTokenClassification") return "token_classification";
  if (arch == "BertForQuestionAnswering") return "question_answering";
  c.bad("architectures", "unsupported architecture '" + arch +
                             "' (supported: BertModel, BertForMaskedLM, BertForPreTraining, "
                             "BertForSequenceClassification, BertForTokenClassification, BertForQuestionAnswering)");
}

// id2label {"0": "NEG", ...} in id order, or num_labels names LABEL_i; transformers' default is 2.
std::vector<std::string> bert_labels(const Config& c) {
  const json* m = c.find("id2label");
  if (m && !m->is_null()) {
    if (!m->is_object() || m->empty()) c.bad("id2label", "expected a non-empty object {\"0\": \"label\", ...}");
    std::vector<std::string> labels(m->size());
    std::vector<bool> seen(m->size(), false);
    for (auto it = m->begin(); it != m->end(); ++it) {
      std::size_t id = 0;
      const std::string& k = it.key();
      if (k.empty() || k.size() > 9 || k.find_first_not_of("0123456789") != std::string::npos)
        c.bad("id2label", "key '" + k + "' is not a label id");
      id = std::stoul(k);
      if (id >= labels.size() || seen[id]) c.bad("id2label", "ids must be 0 .. " + std::to_string(labels.size() - 1));
      if (!it.value().is_string()) c.bad("id2label", "label " + k + " is not a string");
      labels[id] = it.value().get<std::string>();
      seen[id] = true;
    }
    return labels;
  }
  const json* n = c.find("num_labels");
  const int count = n && !n->is_null() ? c.as_int(*n, "num_labels", kMaxVocabSize) : 2;
  std::vector<std::string> labels;
  for (int i = 0; i < count; ++i) labels.push_back("LABEL_" + std::to_string(i));
  return labels;
}

// BERT (model_type bert): keys as in transformers' BertConfig.
void parse_bert_config(const Config& c, ModelSpec& s) {
  s.family = "bert";
  s.norm = "layernorm";
  s.hidden_size = c.get_int("hidden_size", kMaxHiddenSize);
  s.num_layers = c.get_int("num_hidden_layers", kMaxNumLayers);
  s.num_heads = c.get_int("num_attention_heads", kMaxHiddenSize);
  s.ffn_size = c.get_int("intermediate_size", kMaxFfnSize);
  s.context_length = c.get_int("max_position_embeddings", kMaxContextLength);
  s.vocab_size = c.get_int("vocab_size", kMaxVocabSize);
  s.type_vocab_size = c.find("type_vocab_size") ? c.get_int("type_vocab_size", kMaxVocabSize) : 2;
  s.norm_epsilon = c.get_float("layer_norm_eps", 1e-12f);
  const std::string act = c.get_string("hidden_act", "gelu");
  if (act == "gelu") s.activation = ops::Activation::GeluErf;
  else if (act == "gelu_new" || act == "gelu_pytorch_tanh") s.activation = ops::Activation::GeluTanh;
  else c.bad("hidden_act", "unsupported activation '" + act + "' (supported: gelu, gelu_new)");
  const std::string pos = c.get_string("position_embedding_type", "absolute");
  if (pos != "absolute") c.bad("position_embedding_type", "unsupported '" + pos + "' (supported: absolute)");
  s.tied_embeddings = c.get_bool("tie_word_embeddings", true);
  s.head = bert_head(c);
  if (s.head == "sequence_classification" || s.head == "token_classification") s.labels = bert_labels(c);
  s.dtype = torch_dtype(c);
}

}  // namespace

ModelSpec parse_hf_config(const std::string& dir) {
  const std::string file = (std::filesystem::path(dir) / "config.json").string();
  std::ifstream in(file);
  if (!in) throw BadInput(dir + ": not a model directory (no readable config.json)");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    throw BadInput(file + ": invalid JSON: " + e.what());
  }
  if (!j.is_object()) throw BadInput(file + ": expected a JSON object");
  const Config c(j, file);

  const std::string type = c.get_string("model_type", "");
  ModelSpec s;
  std::filesystem::path name = std::filesystem::path(dir).lexically_normal();
  if (name.filename().empty()) name = name.parent_path();
  s.name = name.filename().string();
  s.source = "hf-dir " + dir;
  s.weights.random = false;
  s.weights.path = dir;
  if (type == "llama" || type == "mistral" || type == "granite") {
    parse_llama_config(c, type, s);
    validate(s, file);
    return s;
  }
  if (type == "bert") {
    parse_bert_config(c, s);
    validate(s, file);
    return s;
  }
  if (type != "gpt2")
    throw BadInput(file + ": model_type '" + type + "' is not supported (supported: gpt2, llama, mistral, granite, bert)");
  s.family = "gpt2";
  s.hidden_size = c.get_int("n_embd", kMaxHiddenSize);
  s.num_layers = c.get_int("n_layer", kMaxNumLayers);
  s.num_heads = c.get_int("n_head", kMaxHiddenSize);
  s.context_length = c.get_int("n_positions", kMaxContextLength, "n_ctx");
  s.vocab_size = c.get_int("vocab_size", kMaxVocabSize);
  const json* inner = c.find("n_inner");
  if (!inner || inner->is_null()) {
    s.ffn_size = 4 * s.hidden_size;  // hidden_size <= kMaxHiddenSize: no overflow
  } else {
    s.ffn_size = c.as_int(*inner, "n_inner", kMaxFfnSize);
  }
  if (const json* eps = c.find("layer_norm_epsilon"); eps && !eps->is_null()) {
    if (!eps->is_number()) c.bad("layer_norm_epsilon", "expected a number");
    // A double beyond float's range has no float value (the conversion is undefined behaviour).
    const double e = eps->get<double>();
    if (std::fabs(e) > static_cast<double>(std::numeric_limits<float>::max()))
      c.bad("layer_norm_epsilon", eps->dump() + " is out of range for a float");
    s.norm_epsilon = static_cast<float>(e);
  }
  const std::string act = c.get_string("activation_function", "gelu_new");
  if (act == "gelu_new" || act == "gelu_pytorch_tanh" || act == "gelu_fast") s.activation = ops::Activation::GeluTanh;
  else if (act == "gelu") s.activation = ops::Activation::GeluErf;
  else c.bad("activation_function", "unsupported activation '" + act + "' (supported: gelu_new, gelu)");
  if (const json* tie = c.find("tie_word_embeddings"); tie && !tie->is_null()) {
    if (!tie->is_boolean()) c.bad("tie_word_embeddings", "expected true or false");
    s.tied_embeddings = tie->get<bool>();
  }
  s.dtype = torch_dtype(c);
  validate(s, file);
  return s;
}

}  // namespace ferry
