// A GGUF file of architecture "llama" (the keys llama.cpp writes: llama.*, tokenizer.ggml.*) as a
// ferry model: its ModelSpec, its weights under Hugging Face names, and its vocabulary.
#include <cmath>
#include <filesystem>
#include <map>

#include "base/error.h"
#include "models/gguf.h"

namespace ferry {

namespace {

int as_int(const GgufFile& f, const std::string& key, int limit) {
  const std::uint64_t v = f.get_uint(key);
  if (v == 0 || v > static_cast<std::uint64_t>(limit))
    f.bad("metadata key '" + key + "' = " + std::to_string(v) + " is out of range (1 to " + std::to_string(limit) + ")");
  return static_cast<int>(v);
}

void check_architecture(const GgufFile& f) {
  const std::string& arch = f.get_string("general.architecture");
  if (arch != "llama") f.bad("unknown architecture '" + arch + "' (supported: llama)");
}

// The model's dtype: F16 or BF16 when every matrix of the file is stored so (the packs then keep
// them 16-bit, `--weights stored`), else F32: quantized blocks are dequantized to f32 at load.
DType stored_dtype(const GgufFile& f) {
  constexpr std::uint32_t kF16 = 1, kBF16 = 30;  // ggml_type (ggml.h)
  std::uint32_t seen = 0;
  for (const GgufTensor& t : f.tensors()) {
    if (t.ne.size() < 2) continue;  // norm gains are F32 in llama.cpp's files whatever the model
    if ((t.type != kF16 && t.type != kBF16) || (seen != 0 && t.type != seen)) return DType::F32;
    seen = t.type;
  }
  return seen == kF16 ? DType::F16 : seen == kBF16 ? DType::BF16 : DType::F32;
}

ModelSpec spec_of(const GgufFile& f) {
  check_architecture(f);
  ModelSpec s;
  s.family = "llama";
  s.norm = "rmsnorm";
  s.name = std::filesystem::path(f.path()).stem().string();
  s.source = "gguf " + f.path();
  s.context_length = as_int(f, "llama.context_length", kMaxContextLength);
  s.hidden_size = as_int(f, "llama.embedding_length", kMaxHiddenSize);
  s.num_layers = as_int(f, "llama.block_count", kMaxNumLayers);
  s.ffn_size = as_int(f, "llama.feed_forward_length", kMaxFfnSize);
  s.num_heads = as_int(f, "llama.attention.head_count", kMaxHiddenSize);
  if (f.has("llama.attention.head_count_kv")) s.num_kv_heads = as_int(f, "llama.attention.head_count_kv", kMaxHiddenSize);
  s.norm_epsilon = static_cast<float>(f.get_float("llama.attention.layer_norm_rms_epsilon"));
  if (f.has("llama.rope.freq_base")) s.rope_theta = static_cast<float>(f.get_float("llama.rope.freq_base"));
  if (f.has("llama.rope.dimension_count")) {
    const int rd = as_int(f, "llama.rope.dimension_count", kMaxHiddenSize);
    if (rd != s.hidden_size / s.num_heads) s.head_dim_override = rd;
  }
  if (f.has("llama.rope.scaling.type")) {
    const std::string& t = f.get_string("llama.rope.scaling.type");
    if (t == "linear") {
      s.rope_scaling = "linear";
      s.rope_factor = static_cast<float>(f.get_float("llama.rope.scaling.factor"));
    } else if (t != "none") {
      f.bad("llama.rope.scaling.type '" + t + "' is not supported (supported: none, linear)");
    }
  }
  const GgufTensor* embd = f.find_tensor("token_embd.weight");
  if (!embd) f.bad("tensor 'token_embd.weight' is missing");
  if (embd->ne.size() != 2) f.bad("tensor 'token_embd.weight' is not a matrix");
  s.vocab_size = f.has("llama.vocab_size") ? as_int(f, "llama.vocab_size", kMaxVocabSize)
                                           : static_cast<int>(std::min<std::uint64_t>(embd->ne[1], kMaxVocabSize + 1ull));
  if (f.has("tokenizer.ggml.tokens")) {
    const std::size_t n = f.get_array("tokenizer.ggml.tokens").size();
    if (n != static_cast<std::size_t>(s.vocab_size))
      f.bad("the vocabulary has " + std::to_string(n) + " tokens but the embedding has " + std::to_string(s.vocab_size) +
            " rows");
  }
  s.tied_embeddings = f.find_tensor("output.weight") == nullptr;
  s.dtype = stored_dtype(f);
  s.weights.random = false;
  s.weights.path = f.path();
  validate(s, f.path());
  return s;
}

// Hugging Face name -> GGUF name, and the heads to un-permute for Q / K (0: none).
struct Mapped {
  std::string name;
  int permute_heads = 0;
};

Mapped map_name(const std::string& hf, int heads, int kv_heads) {
  if (hf == "model.embed_tokens.weight") return {"token_embd.weight"};
  if (hf == "model.norm.weight") return {"output_norm.weight"};
  if (hf == "lm_head.weight") return {"output.weight"};
  const std::string pre = "model.layers.";
  if (hf.compare(0, pre.size(), pre) != 0) return {""};
  const std::size_t dot = hf.find('.', pre.size());
  if (dot == std::string::npos) return {""};
  const std::string blk = "blk." + hf.substr(pre.size(), dot - pre.size()) + ".";
  const std::string rest = hf.substr(dot + 1);
  static const std::map<std::string, std::string> parts = {
      {"input_layernorm.weight", "attn_norm.weight"},       {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},         {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.v_proj.weight", "attn_v.weight"},         {"self_attn.o_proj.weight", "attn_output.weight"},
      {"self_attn.q_proj.bias", "attn_q.bias"},             {"self_attn.k_proj.bias", "attn_k.bias"},
      {"self_attn.v_proj.bias", "attn_v.bias"},             {"self_attn.o_proj.bias", "attn_output.bias"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},          {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"}};
  auto it = parts.find(rest);
  if (it == parts.end()) return {""};
  int permute = 0;
  if (rest == "self_attn.q_proj.weight" || rest == "self_attn.q_proj.bias") permute = heads;
  if (rest == "self_attn.k_proj.weight" || rest == "self_attn.k_proj.bias") permute = kv_heads;
  return {blk + it->second, permute};
}

class GgufSource final : public WeightSource {
 public:
  explicit GgufSource(const std::string& path) : f_(path) {
    const ModelSpec s = spec_of(f_);
    heads_ = s.num_heads;
    kv_heads_ = s.kv_heads();
  }

  void read(const std::string& name, const Shape& shape, DType dst_dtype, void* dst) override {
    const Mapped m = map_name(name, heads_, kv_heads_);
    const GgufTensor* t = m.name.empty() ? nullptr : f_.find_tensor(m.name);
    if (!t) f_.bad("tensor '" + (m.name.empty() ? name : m.name) + "' (" + name + ") is missing");
    // GGUF lists dimensions innermost first: a [out, in] matrix has ne = [in, out].
    Shape expect;
    for (auto it = t->ne.rbegin(); it != t->ne.rend(); ++it) expect.dims[expect.rank++] = static_cast<std::int64_t>(*it);
    if (!(expect == shape))
      f_.bad("tensor '" + t->name + "' has shape " + expect.str() + ", expected " + shape.str() + " for " + name);
    const std::uint64_t n = t->elements();
    std::vector<float> buf(static_cast<std::size_t>(n));
    dequantize(t->type, f_.tensor_data(*t), buf.data(), n);
    if (m.permute_heads > 0) unpermute(buf, shape, m.permute_heads);
    convert(buf.data(), DType::F32, dst, dst_dtype, buf.size());
  }

  std::string describe() const override {
    std::map<std::string, int> types;
    for (const GgufTensor& t : f_.tensors()) ++types[ggml_type_name(t.type)];
    std::string s = "gguf " + f_.path() + " (";
    for (const auto& [k, v] : types) s += (s.back() == '(' ? "" : ", ") + k + " x " + std::to_string(v);
    return s + ")";
  }

 private:
  // llama.cpp's converter reorders each head's rows of Q and K for its interleaved RoPE: Hugging Face
  // row j * D/2 + i (half j, pair i) is stored at row 2 i + j. Put them back in rotate-half order.
  static void unpermute(std::vector<float>& w, const Shape& shape, int heads) {
    const std::int64_t rows = shape[0], cols = shape.rank > 1 ? shape[1] : 1;
    const std::int64_t D = rows / heads, half = D / 2;
    std::vector<float> out(w.size());
    for (std::int64_t h = 0; h < heads; ++h)
      for (std::int64_t j = 0; j < 2; ++j)
        for (std::int64_t i = 0; i < half; ++i)
          std::copy_n(w.begin() + (h * D + 2 * i + j) * cols, cols, out.begin() + (h * D + j * half + i) * cols);
    w.swap(out);
  }

  GgufFile f_;
  int heads_ = 0, kv_heads_ = 0;
};

}  // namespace

ModelSpec gguf_model_spec(const std::string& path) { return spec_of(GgufFile(path)); }

std::unique_ptr<WeightSource> open_gguf_weights(const std::string& path) { return std::make_unique<GgufSource>(path); }

TokenizerData gguf_tokenizer_data(const std::string& path) {
  const GgufFile f(path);
  TokenizerData d;
  d.origin = path;
  d.model = f.has("tokenizer.ggml.model") ? f.get_string("tokenizer.ggml.model") : "none";
  if (d.model == "none") return d;
  if (f.has("tokenizer.ggml.pre")) d.pre = f.get_string("tokenizer.ggml.pre");
  auto strings = [&](const char* key, std::vector<std::string>& out) {
    for (const GgufValue& v : f.get_array(key)) {
      const auto* s = std::get_if<std::string>(&v.v);
      if (!s) f.bad(std::string("metadata key '") + key + "' holds " + v.type_name() + ", expected strings");
      out.push_back(*s);
    }
  };
  strings("tokenizer.ggml.tokens", d.tokens);
  if (f.has("tokenizer.ggml.merges")) strings("tokenizer.ggml.merges", d.merges);
  if (f.has("tokenizer.ggml.scores"))
    for (const GgufValue& v : f.get_array("tokenizer.ggml.scores")) {
      const auto* x = std::get_if<double>(&v.v);
      if (!x) f.bad("metadata key 'tokenizer.ggml.scores' holds " + std::string(v.type_name()) + ", expected floats");
      d.scores.push_back(static_cast<float>(*x));
    }
  if (f.has("tokenizer.ggml.token_type"))
    for (const GgufValue& v : f.get_array("tokenizer.ggml.token_type")) {
      const auto* x = std::get_if<std::int64_t>(&v.v);
      const auto* u = std::get_if<std::uint64_t>(&v.v);
      if (!x && !u) f.bad("metadata key 'tokenizer.ggml.token_type' holds " + std::string(v.type_name()) + ", expected integers");
      d.token_type.push_back(static_cast<std::int32_t>(x ? *x : static_cast<std::int64_t>(*u)));
    }
  auto id = [&](const char* key, std::int32_t& out) {
    if (!f.has(key)) return;
    const std::uint64_t v = f.get_uint(key);
    if (v >= d.tokens.size()) f.bad(std::string("metadata key '") + key + "' = " + std::to_string(v) + " is not a token id");
    out = static_cast<std::int32_t>(v);
  };
  id("tokenizer.ggml.bos_token_id", d.bos_id);
  id("tokenizer.ggml.eos_token_id", d.eos_id);
  id("tokenizer.ggml.unknown_token_id", d.unk_id);
  id("tokenizer.ggml.padding_token_id", d.pad_id);
  d.add_bos = d.model == "llama";  // llama.cpp's default for SentencePiece vocabularies
  if (f.has("tokenizer.ggml.add_bos_token")) d.add_bos = f.get_bool("tokenizer.ggml.add_bos_token");
  if (f.has("tokenizer.ggml.add_eos_token")) d.add_eos = f.get_bool("tokenizer.ggml.add_eos_token");
  if (f.has("tokenizer.ggml.add_space_prefix")) d.add_space_prefix = f.get_bool("tokenizer.ggml.add_space_prefix");
  if (f.has("tokenizer.chat_template")) d.chat_template = f.get_string("tokenizer.chat_template");
  return d;
}

}  // namespace ferry
