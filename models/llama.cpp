// The LLaMA family (Touvron et al. 2023): pre-norm decoder blocks with RMSNorm, rotary position
// embeddings (Su et al. 2021, Hugging Face's rotate-half layout), grouped-query attention (Ainslie
// et al. 2023) and a SwiGLU MLP (Shazeer 2020):
//   x += o(attn(rope(q), rope(k), v)) over rmsnorm(x);  x += down(silu(gate) * up) over rmsnorm(x)
//   logits = rmsnorm(x) · head^T
// Mistral configs are this family (without a sliding window); Granite adds four multipliers
// (embedding, residual, attention scale, logits). As in GPT-2, each residual add is fused into the
// norm that follows it. Pack tensors fuse the projections that share an input: q, k and v form one
// [q + k + v, H] matrix, gate and up one [2F, H] matrix (nn.Linear layout, y = x W^T).
#include <cmath>
#include <string>

#include "base/error.h"
#include "models/family_common.h"
#include "ops/ops.h"

namespace ferry {
namespace {

std::string layer(int b) { return "model.layers." + std::to_string(b) + "."; }

ops::AttentionShape attention_shape(const ModelSpec& spec) {
  ops::AttentionShape a;
  a.n_heads = spec.num_heads;
  a.n_kv_heads = spec.kv_heads();
  a.head_dim = spec.head_dim();
  a.scale = spec.attention_multiplier > 0 ? spec.attention_multiplier
                                          : 1.0f / std::sqrt(static_cast<float>(spec.head_dim()));
  return a;
}

ops::RopeParams rope_params(const ModelSpec& spec) {
  ops::RopeParams r;
  r.theta = spec.rope_theta;
  r.rotary_dim = spec.head_dim();
  r.scaling = spec.rope_scaling == "linear" ? 1 : spec.rope_scaling == "llama3" ? 2 : 0;
  r.factor = spec.rope_factor;
  r.low_freq_factor = spec.rope_low_freq_factor;
  r.high_freq_factor = spec.rope_high_freq_factor;
  r.original_context = spec.rope_original_context;
  return r;
}

class LlamaFamily final : public ModelFamily {
 public:
  const char* name() const override { return "llama"; }
  std::string hf_config_json(const ModelSpec& spec) const override { return llama_hf_config_json(spec); }

  std::vector<TensorInfo> tensors(const ModelSpec& spec) const override {
    const std::int64_t V = spec.vocab_size, H = spec.hidden_size, F = spec.ffn_size, D = spec.head_dim();
    const std::int64_t Q = spec.num_heads * D, KV = spec.kv_heads() * D;
    std::vector<TensorInfo> t;
    auto add = [&](std::string name, Shape shape, int pack, std::string local, Shape pack_shape = Shape{},
                   std::int64_t row = 0) {
      t.push_back(TensorInfo{std::move(name), shape, pack, std::move(local), pack_shape, row});
    };
    add("model.embed_tokens.weight", {V, H}, 0, "embed");
    add("model.norm.weight", {H}, 0, "norm");
    if (!spec.tied_embeddings) add("lm_head.weight", {V, H}, 0, "lm_head");
    for (int b = 0; b < spec.num_layers; ++b) {
      const std::string p = layer(b);
      const int k = b + 1;
      add(p + "input_layernorm.weight", {H}, k, "attn_norm");
      add(p + "self_attn.q_proj.weight", {Q, H}, k, "qkv", {Q + 2 * KV, H}, 0);
      add(p + "self_attn.k_proj.weight", {KV, H}, k, "qkv", {Q + 2 * KV, H}, Q);
      add(p + "self_attn.v_proj.weight", {KV, H}, k, "qkv", {Q + 2 * KV, H}, Q + KV);
      if (spec.attention_bias) {
        add(p + "self_attn.q_proj.bias", {Q}, k, "qkv_bias", {Q + 2 * KV}, 0);
        add(p + "self_attn.k_proj.bias", {KV}, k, "qkv_bias", {Q + 2 * KV}, Q);
        add(p + "self_attn.v_proj.bias", {KV}, k, "qkv_bias", {Q + 2 * KV}, Q + KV);
      }
      add(p + "self_attn.o_proj.weight", {H, Q}, k, "o");
      if (spec.attention_bias) add(p + "self_attn.o_proj.bias", {H}, k, "o_bias");
      add(p + "post_attention_layernorm.weight", {H}, k, "mlp_norm");
      add(p + "mlp.gate_proj.weight", {F, H}, k, "gate_up", {2 * F, H}, 0);
      add(p + "mlp.up_proj.weight", {F, H}, k, "gate_up", {2 * F, H}, F);
      add(p + "mlp.down_proj.weight", {H, F}, k, "down");
    }
    return t;
  }

  // As transformers' LlamaPreTrainedModel: normal(0, 0.02) matrices and embeddings, zero biases,
  // unit norm gains.
  RandomInit random_init(const ModelSpec& /*spec*/, const TensorInfo& t) const override {
    if (t.local == "attn_norm" || t.local == "mlp_norm" || t.local == "norm") return {RandomInit::Kind::One, 0};
    if (t.local == "qkv_bias" || t.local == "o_bias") return {RandomInit::Kind::Zero, 0};
    return {RandomInit::Kind::Normal, 0.02f};
  }

  std::uint64_t parameter_count(const ModelSpec& spec) const override { return count_parameters(spec, *this); }

  std::size_t workspace_bytes(const ModelSpec& spec, int rows) const override {
    const std::int64_t H = spec.hidden_size, D = spec.head_dim(), F = spec.ffn_size;
    const std::int64_t Q = spec.num_heads * D, KV = spec.kv_heads() * D;
    return WorkspaceCarver::bytes(rows, {H, H, H, Q + 2 * KV, Q, 2 * F, F});
  }

  Workspace carve_workspace(const ModelSpec& spec, int rows, std::byte* base, DeviceKind device) const override {
    const std::int64_t H = spec.hidden_size, D = spec.head_dim(), F = spec.ffn_size;
    const std::int64_t Q = spec.num_heads * D, KV = spec.kv_heads() * D;
    WorkspaceCarver c(base, rows, device);
    Workspace ws;
    ws.residual = c.take(H);
    ws.delta = c.take(H);
    ws.normed = c.take(H);
    ws.qkv = c.take(Q + 2 * KV);
    ws.attn = c.take(Q);
    ws.fc = c.take(2 * F);
    ws.mlp = c.take(F);
    FERRY_CHECK(c.used() <= workspace_bytes(spec, rows), "workspace overrun");
    return ws;
  }

  int kv_width(const ModelSpec& spec) const override { return spec.kv_heads() * spec.head_dim(); }

  void embed(Stream& s, const ModelSpec& spec, const PackLayout& layout0, const std::byte* pack0, const Batch& batch,
             Workspace& ws) const override {
    ops::embedding_lookup(s, batch.ids, layout0.view(pack0, "embed", s.device()), spec.embedding_multiplier,
                          ws.residual);
    ws.has_delta = false;
  }

  void block(Stream& s, const ModelSpec& spec, const PackLayout& layout, const std::byte* pack, const Batch& batch,
             Workspace& ws, const KVLayer& kv) const override {
    const DeviceKind d = s.device();
    auto w = [&](const char* name) { return layout.view(pack, name, d); };
    const TensorView none;
    const ops::AttentionShape shape = attention_shape(spec);
    const float rm = spec.residual_multiplier;
    // x = x + rm * delta (previous block's MLP); a = rmsnorm(x)
    ops::add_rmsnorm(s, ws.residual, ws.has_delta ? ws.delta : none, rm, w("attn_norm"), spec.norm_epsilon,
                     ws.normed);
    // [q | k | v] = a · W_qkv^T (+ b); rotate q and k by position; append k, v to the cache
    ops::linear(s, ws.normed, w("qkv"), ops::WeightLayout::NK, spec.attention_bias ? w("qkv_bias") : none,
                ops::Activation::None, ws.qkv);
    ops::rope(s, ws.qkv, batch.pos, shape, rope_params(spec));
    ops::kv_append(s, ws.qkv, batch.seq, batch.pos, kv.k, kv.v, shape);
    if (batch.decode)
      ops::attention_decode(s, ws.qkv, kv.k, kv.v, batch.seq, batch.len, shape, ws.attn);
    else
      ops::attention_prefill(s, ws.qkv, batch.offsets, shape, ws.attn);
    // x = x + rm * (attn · W_o^T (+ b)) (the residual epilogue; ws.delta is its workspace); a = rmsnorm(x)
    ops::linear_residual(s, ws.attn, w("o"), ops::WeightLayout::NK, spec.attention_bias ? w("o_bias") : none, rm,
                         ws.delta, ws.residual);
    ops::add_rmsnorm(s, ws.residual, none, rm, w("mlp_norm"), spec.norm_epsilon, ws.normed);
    // m = silu(a · W_gate^T) * (a · W_up^T) (the SwiGLU epilogue; ws.fc is its workspace);
    // x = x + rm * (m · W_down^T)
    ops::linear_swiglu(s, ws.normed, w("gate_up"), ws.fc, ws.mlp);
    ops::linear_residual(s, ws.mlp, w("down"), ops::WeightLayout::NK, none, rm, ws.delta, ws.residual);
    ws.has_delta = false;
  }

  void final_norm(Stream& s, const ModelSpec& spec, const PackLayout& layout0, const std::byte* pack0,
                  Workspace& ws) const override {
    const TensorView none;
    ops::add_rmsnorm(s, ws.residual, ws.has_delta ? ws.delta : none, spec.residual_multiplier,
                     layout0.view(pack0, "norm", s.device()), spec.norm_epsilon, ws.normed);
    ws.has_delta = false;
  }

  void lm_head(Stream& s, const ModelSpec& spec, const PackLayout& layout0, const std::byte* pack0, TensorView x,
               TensorView logits) const override {
    ops::logits(s, x, layout0.view(pack0, spec.tied_embeddings ? "embed" : "lm_head", s.device()), logits);
    if (spec.logits_scaling != 1.0f) ops::scale(s, logits, 1.0f / spec.logits_scaling);  // Granite
  }

  double pass_flops(const ModelSpec& spec, std::int64_t rows, std::int64_t attended,
                    std::int64_t logit_rows) const override {
    const double H = spec.hidden_size, F = spec.ffn_size, V = spec.vocab_size, L = spec.num_layers;
    const double Q = static_cast<double>(spec.num_heads) * spec.head_dim();
    const double KV = static_cast<double>(spec.kv_heads()) * spec.head_dim();
    // Per row and block: qkv H x (Q + 2 KV), o Q x H, gate_up H x 2F, down F x H.
    const double gemm = 2.0 * (H * (Q + 2 * KV) + Q * H + 3 * H * F);
    // Per attended (query, key) pair and block: q.k and p.v over every query head.
    const double attn = 2.0 * 2.0 * Q;
    return L * (gemm * static_cast<double>(rows) + attn * static_cast<double>(attended)) +
           2.0 * H * V * static_cast<double>(logit_rows);
  }
};

}  // namespace

const ModelFamily& llama_family() {
  static const LlamaFamily f;
  return f;
}

}  // namespace ferry
