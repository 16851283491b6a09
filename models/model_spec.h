// ModelSpec: a parsed, validated model description (TOML file, preset name, or a Hugging Face
// directory's config.json). Immutable once made. Schema: docs/model-format.md.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "base/dtype.h"
#include "ops/ops.h"

namespace ferry {

// Upper bounds on model dimensions; validate() refuses larger values, naming the key. They are far
// above any published model (GPT-3 175B: hidden 12288, 96 layers; vocabularies up to ~256K) and
// small enough that the parameter count (< 2^52), the byte size of every tensor and of the whole
// model (< 2^55), and the KV cache of one full-length sequence (< 2^55 bytes) fit in 64 bits,
// and 4 * hidden_size fits in an int.
inline constexpr int kMaxVocabSize = 1 << 24;      // 16,777,216 (the tokenizer's id bound too)
inline constexpr int kMaxContextLength = 1 << 22;  // 4,194,304 positions
inline constexpr int kMaxHiddenSize = 1 << 17;     // 131,072
inline constexpr int kMaxNumLayers = 1 << 12;      // 4,096
inline constexpr int kMaxFfnSize = 1 << 20;        // 1,048,576

struct WeightsSpec {
  bool random = true;         // random init like GPT-2 (normal, std 0.02) with `seed`
  std::uint64_t seed = 0;
  std::string path;           // checkpoint: a .safetensors file or a Hugging Face directory
};

struct ModelSpec {
  std::string name;           // "gpt2-xl", or the file/directory it came from
  std::string family = "gpt2";
  int vocab_size = 0;
  int context_length = 0;
  int hidden_size = 0;
  int num_layers = 0;
  int num_heads = 0;
  int ffn_size = 0;
  std::string norm = "layernorm";
  float norm_epsilon = 1e-5f;
  ops::Activation activation = ops::Activation::GeluTanh;
  bool tied_embeddings = true;
  DType dtype = DType::F32;   // storage dtype of the weights
  // ---- LLaMA family (family "llama"; Mistral and Granite configs map to it) ----
  int num_kv_heads = 0;       // grouped-query attention; 0 = num_heads
  int head_dim_override = 0;  // 0 = hidden_size / num_heads
  float rope_theta = 10000.0f;
  // rope_scaling: "" (none), "linear" (positions / factor) or "llama3" (Meta's frequency-dependent
  // scaling: factor, low_freq_factor, high_freq_factor, original_max_position_embeddings).
  std::string rope_scaling;
  float rope_factor = 1.0f, rope_low_freq_factor = 1.0f, rope_high_freq_factor = 4.0f;
  int rope_original_context = 8192;
  bool attention_bias = false;  // q/k/v/o projections carry biases
  // Granite (model_type granite): residual stream multipliers; 1 / 1 / 0 (= 1/sqrt(head_dim)) / 1 otherwise.
  float embedding_multiplier = 1.0f, residual_multiplier = 1.0f, attention_multiplier = 0.0f,
        logits_scaling = 1.0f;
  // ---- BERT family (family "bert": encoders, docs/model-format.md) ----
  int type_vocab_size = 2;    // token type (segment) embeddings
  // The task head the checkpoint carries (config.json architectures[0]): "model" (BertModel: the
  // pooler), "masked_lm" (BertForMaskedLM), "sequence_classification" (pooler + classifier),
  // "token_classification" (classifier), "question_answering" (qa_outputs, 2 logits per token).
  std::string head = "model";
  std::vector<std::string> labels;  // id2label in id order (the classification heads); "LABEL_i" when absent
  // Heads this family knows, and the label count a head needs (0 for those without labels).
  static const std::vector<std::string>& head_names();
  WeightsSpec weights;
  std::string source;         // "preset gpt2-xl", "file models/x.toml", "hf-dir ./dir"

  int head_dim() const { return head_dim_override > 0 ? head_dim_override : hidden_size / num_heads; }
  int kv_heads() const { return num_kv_heads > 0 ? num_kv_heads : num_heads; }
  // Overflow-checked; throws BadInput naming the model when the count does not fit in 64 bits
  // (never for a validated spec: the limits above keep it below 2^52).
  std::uint64_t parameter_count() const;
};

// MODEL is a preset name, a TOML file, or a Hugging Face directory (config.json with
// model_type "gpt2"). Throws BadInput with a one-line message naming the file and key.
ModelSpec load_model_spec(const std::string& model);
ModelSpec parse_model_toml_file(const std::string& path);
ModelSpec parse_model_toml_string(const std::string& text, const std::string& origin,
                                  const std::string& base_dir);
ModelSpec parse_hf_config(const std::string& dir);  // weights.path = dir, random = false
std::vector<std::string> preset_names();
std::string preset_toml(const std::string& name);  // the shipped TOML text; BadInput if unknown
// Checks ranges and consistency (hidden divisible by heads, ...); throws BadInput naming `origin`.
void validate(const ModelSpec& spec, const std::string& origin);

}  // namespace ferry
