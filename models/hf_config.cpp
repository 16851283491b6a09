// A Hugging Face GPT-2 checkpoint directory's config.json -> ModelSpec (docs/model-format.md).
// Keys as in transformers' GPT2Config: n_embd, n_layer, n_head, n_positions (or n_ctx),
// vocab_size, n_inner, layer_norm_epsilon, activation_function, tie_word_embeddings, torch_dtype.
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
  std::string get_string(const char* key, const std::string& dflt) const {
    const json* v = find(key);
    if (!v || v->is_null()) return dflt;
    if (!v->is_string()) bad(key, "expected a string");
    return v->get<std::string>();
  }

 private:
  const json& j_;
  const std::string& file_;
};

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
  if (type != "gpt2")
    throw BadInput(file + ": model_type '" + type + "' is not supported (supported: gpt2)");

  ModelSpec s;
  std::filesystem::path name = std::filesystem::path(dir).lexically_normal();
  if (name.filename().empty()) name = name.parent_path();
  s.name = name.filename().string();
  s.family = "gpt2";
  s.source = "hf-dir " + dir;
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
  const std::string dt = c.get_string("torch_dtype", "float32");
  if (dt == "float32") s.dtype = DType::F32;
  else if (dt == "float16") s.dtype = DType::F16;
  else if (dt == "bfloat16") s.dtype = DType::BF16;
  else c.bad("torch_dtype", "unsupported dtype '" + dt + "' (supported: float32, float16, bfloat16)");
  s.weights.random = false;
  s.weights.path = dir;
  validate(s, file);
  return s;
}

}  // namespace ferry
