// The config.json that `ferry export` writes for each family: the keys transformers' GPT2Config,
// LlamaConfig and GraniteConfig read (and models/hf_config.cpp parses back).
#include <map>

#include <nlohmann/json.hpp>

#include "models/family_common.h"

namespace ferry {

namespace {

const char* torch_dtype(DType t) {
  switch (t) {
    case DType::F16: return "float16";
    case DType::BF16: return "bfloat16";
    default: return "float32";
  }
}

bool is_granite(const ModelSpec& s) {
  return s.embedding_multiplier != 1.0f || s.residual_multiplier != 1.0f || s.attention_multiplier != 0.0f ||
         s.logits_scaling != 1.0f;
}

}  // namespace

std::string gpt2_hf_config_json(const ModelSpec& spec) {
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

// Granite when any of its multipliers differs from plain LLaMA's; Mistral configs are LLaMA's
// without a sliding window, so they are written as llama.
std::string llama_hf_config_json(const ModelSpec& spec) {
  const bool granite = is_granite(spec);
  nlohmann::ordered_json j;
  j["model_type"] = granite ? "granite" : "llama";
  j["architectures"] = {granite ? "GraniteForCausalLM" : "LlamaForCausalLM"};
  j["vocab_size"] = spec.vocab_size;
  j["max_position_embeddings"] = spec.context_length;
  j["hidden_size"] = spec.hidden_size;
  j["intermediate_size"] = spec.ffn_size;
  j["num_hidden_layers"] = spec.num_layers;
  j["num_attention_heads"] = spec.num_heads;
  j["num_key_value_heads"] = spec.kv_heads();
  j["head_dim"] = spec.head_dim();
  j["hidden_act"] = "silu";
  j["rms_norm_eps"] = static_cast<double>(spec.norm_epsilon);
  j["rope_theta"] = static_cast<double>(spec.rope_theta);
  if (spec.rope_scaling.empty()) {
    j["rope_scaling"] = nullptr;
  } else {
    nlohmann::ordered_json r;
    r["rope_type"] = spec.rope_scaling;
    r["factor"] = static_cast<double>(spec.rope_factor);
    if (spec.rope_scaling == "llama3") {
      r["low_freq_factor"] = static_cast<double>(spec.rope_low_freq_factor);
      r["high_freq_factor"] = static_cast<double>(spec.rope_high_freq_factor);
      r["original_max_position_embeddings"] = spec.rope_original_context;
    }
    j["rope_scaling"] = r;
  }
  j["attention_bias"] = spec.attention_bias;
  j["mlp_bias"] = false;
  if (granite) {
    j["embedding_multiplier"] = static_cast<double>(spec.embedding_multiplier);
    j["residual_multiplier"] = static_cast<double>(spec.residual_multiplier);
    j["attention_multiplier"] = static_cast<double>(spec.attention_multiplier);
    j["logits_scaling"] = static_cast<double>(spec.logits_scaling);
  }
  j["tie_word_embeddings"] = spec.tied_embeddings;
  j["torch_dtype"] = torch_dtype(spec.dtype);
  return j.dump(2) + "\n";
}

}  // namespace ferry

namespace ferry {

// BertConfig's keys; architectures[0] names the head (the inverse of hf_config.cpp's bert_head).
std::string bert_hf_config_json(const ModelSpec& spec) {
  static const std::map<std::string, std::string> arch{{"model", "BertModel"},
                                                       {"masked_lm", "BertForMaskedLM"},
                                                       {"sequence_classification", "BertForSequenceClassification"},
                                                       {"token_classification", "BertForTokenClassification"},
                                                       {"question_answering", "BertForQuestionAnswering"}};
  nlohmann::ordered_json j;
  j["model_type"] = "bert";
  j["architectures"] = {arch.at(spec.head)};
  j["vocab_size"] = spec.vocab_size;
  j["type_vocab_size"] = spec.type_vocab_size;
  j["max_position_embeddings"] = spec.context_length;
  j["hidden_size"] = spec.hidden_size;
  j["intermediate_size"] = spec.ffn_size;
  j["num_hidden_layers"] = spec.num_layers;
  j["num_attention_heads"] = spec.num_heads;
  j["hidden_act"] = spec.activation == ops::Activation::GeluTanh ? "gelu_new" : "gelu";
  j["layer_norm_eps"] = static_cast<double>(spec.norm_epsilon);
  j["position_embedding_type"] = "absolute";
  if (!spec.labels.empty()) {
    nlohmann::ordered_json labels;
    for (std::size_t i = 0; i < spec.labels.size(); ++i) labels[std::to_string(i)] = spec.labels[i];
    j["id2label"] = labels;
  }
  j["tie_word_embeddings"] = spec.tied_embeddings;
  j["torch_dtype"] = torch_dtype(spec.dtype);
  return j.dump(2) + "\n";
}

}  // namespace ferry
