// GPT-2 (Radford et al. 2019): pre-LN transformer, x += attn(ln_1(x)); x += mlp(ln_2(x)); logits =
// ln_f(x) · wte^T. Every residual add is fused into the LayerNorm that follows it, so a block's MLP
// output ("delta") is added by the next block's ln_1 (or by ln_f). Tensors keep their Hugging Face
// names; the Conv1D weights [in, out] are packed transposed, [out, in], so every linear is NK (the
// table is in gpt2_tensors.cpp).
#include <cmath>

#include "base/error.h"
#include "memory/buffer.h"
#include "models/family_common.h"
#include "models/weights.h"
#include "ops/ops.h"

namespace ferry {
namespace {

class Gpt2Family final : public ModelFamily {
 public:
  const char* name() const override { return "gpt2"; }
  std::string hf_config_json(const ModelSpec& spec) const override { return gpt2_hf_config_json(spec); }
  std::vector<TensorInfo> tensors(const ModelSpec& spec) const override { return gpt2_tensors(spec); }

  RandomInit random_init(const ModelSpec& spec, const TensorInfo& t) const override {
    const std::string& l = t.local;
    if (l.size() >= 5 && l.compare(l.size() - 5, 5, ".bias") == 0) return {RandomInit::Kind::Zero, 0};
    if (l.compare(0, 3, "ln_") == 0) return {RandomInit::Kind::One, 0};
    if (l == "attn.c_proj.weight" || l == "mlp.c_proj.weight")
      return {RandomInit::Kind::Normal, static_cast<float>(0.02 / std::sqrt(2.0 * spec.num_layers))};
    return {RandomInit::Kind::Normal, 0.02f};
  }

  std::uint64_t parameter_count(const ModelSpec& spec) const override { return spec.parameter_count(); }

  std::size_t workspace_bytes(const ModelSpec& spec, int rows) const override { return mha_workspace_bytes(spec, rows); }

  Workspace carve_workspace(const ModelSpec& spec, int rows, std::byte* base, DeviceKind device) const override {
    return carve_mha_workspace(spec, rows, base, device);
  }

  int kv_width(const ModelSpec& spec) const override { return spec.hidden_size; }

  void embed(Stream& s, const ModelSpec& /*spec*/, const PackLayout& layout0, const std::byte* pack0,
             const Batch& batch, Workspace& ws) const override {
    const DeviceKind d = s.device();
    ops::embedding(s, batch.ids, batch.pos, layout0.view(pack0, "wte.weight", d),
                   layout0.view(pack0, "wpe.weight", d), ws.residual);
    ws.has_delta = false;
  }

  void block(Stream& s, const ModelSpec& spec, const PackLayout& layout, const std::byte* pack, const Batch& batch,
             Workspace& ws, const KVLayer& kv) const override {
    const DeviceKind d = s.device();
    auto w = [&](const char* name) { return layout.view(pack, name, d); };
    const TensorView no_delta;
    // x = x + delta (previous block's MLP); a = ln_1(x)
    ops::add_layernorm(s, ws.residual, ws.has_delta ? ws.delta : no_delta, w("ln_1.weight"), w("ln_1.bias"),
                       spec.norm_epsilon, ws.normed);
    // qkv = a · W_attn + b   [T, 3H]
    ops::linear(s, ws.normed, w("attn.c_attn.weight"), ops::WeightLayout::NK, w("attn.c_attn.bias"),
                ops::Activation::None, ws.qkv);
    ops::kv_append(s, ws.qkv, batch.seq, batch.pos, kv.k, kv.v);
    if (batch.decode)
      ops::attention_decode(s, ws.qkv, kv.k, kv.v, batch.seq, batch.len, spec.num_heads, ws.attn);
    else
      ops::attention_prefill(s, ws.qkv, batch.offsets, spec.num_heads, ws.attn);
    // x = x + attn · W_proj + b (the residual epilogue; ws.delta is its workspace); a = ln_2(x)
    ops::linear_residual(s, ws.attn, w("attn.c_proj.weight"), ops::WeightLayout::NK, w("attn.c_proj.bias"), 1.0f,
                         ws.delta, ws.residual);
    ops::add_layernorm(s, ws.residual, no_delta, w("ln_2.weight"), w("ln_2.bias"), spec.norm_epsilon, ws.normed);
    // fc = act(a · W_fc + b); x = x + fc · W_proj2 + b
    ops::linear(s, ws.normed, w("mlp.c_fc.weight"), ops::WeightLayout::NK, w("mlp.c_fc.bias"), spec.activation,
                ws.fc);
    ops::linear_residual(s, ws.fc, w("mlp.c_proj.weight"), ops::WeightLayout::NK, w("mlp.c_proj.bias"), 1.0f,
                         ws.delta, ws.residual);
    ws.has_delta = false;
  }

  void final_norm(Stream& s, const ModelSpec& spec, const PackLayout& layout0, const std::byte* pack0,
                  Workspace& ws) const override {
    const DeviceKind d = s.device();
    const TensorView no_delta;
    ops::add_layernorm(s, ws.residual, ws.has_delta ? ws.delta : no_delta, layout0.view(pack0, "ln_f.weight", d),
                       layout0.view(pack0, "ln_f.bias", d), spec.norm_epsilon, ws.normed);
    ws.has_delta = false;
  }

  void lm_head(Stream& s, const ModelSpec& spec, const PackLayout& layout0, const std::byte* pack0, TensorView x,
               TensorView logits) const override {
    const char* head = spec.tied_embeddings ? "wte.weight" : "lm_head.weight";
    ops::logits(s, x, layout0.view(pack0, head, s.device()), logits);
  }

  double pass_flops(const ModelSpec& spec, std::int64_t rows, std::int64_t attended,
                    std::int64_t logit_rows) const override {
    const double H = spec.hidden_size, F = spec.ffn_size, V = spec.vocab_size, L = spec.num_layers;
    // Per row and block: c_attn H x 3H, c_proj H x H, c_fc H x F, mlp c_proj F x H.
    const double gemm = 2.0 * (3 * H * H + H * H + 2 * H * F);
    // Per attended (query, key) pair and block: q.k over H and p.v over H.
    const double attn = 2.0 * 2.0 * H;
    return L * (gemm * static_cast<double>(rows) + attn * static_cast<double>(attended)) +
           2.0 * H * V * static_cast<double>(logit_rows);
  }
};

}  // namespace

const ModelFamily& gpt2_family() {
  static const Gpt2Family f;
  return f;
}

}  // namespace ferry
