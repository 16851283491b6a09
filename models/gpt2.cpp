#include "models/gpt2.h"

#include "base/error.h"
#include "memory/buffer.h"
#include "models/weights.h"
#include "ops/ops.h"

namespace ferry::gpt2 {

std::vector<PackLayout> pack_layouts(const ModelSpec& spec, DType weight_dtype) {
  std::vector<PackLayout> packs(static_cast<std::size_t>(spec.num_layers) + 1);
  for (const TensorInfo& t : gpt2_tensors(spec))
    packs.at(static_cast<std::size_t>(t.pack)).add(t.local, weight_dtype, t.shape);
  return packs;
}

namespace {
constexpr std::size_t kAlign = 256;
}

std::size_t workspace_bytes(const ModelSpec& spec, int rows) {
  const std::size_t T = static_cast<std::size_t>(rows), H = static_cast<std::size_t>(spec.hidden_size),
                    F = static_cast<std::size_t>(spec.ffn_size);
  const std::size_t f = sizeof(float);
  return align_up(T * H * f, kAlign) * 4 + align_up(T * 3 * H * f, kAlign) + align_up(T * F * f, kAlign);
}

Workspace carve_workspace(const ModelSpec& spec, int rows, std::byte* base, DeviceKind device) {
  const std::int64_t T = rows, H = spec.hidden_size, F = spec.ffn_size;
  std::byte* p = base;
  auto take = [&](Shape shape) {
    TensorView v(static_cast<void*>(p), DType::F32, shape, device);
    p += align_up(v.bytes(), kAlign);
    return v;
  };
  Workspace ws;
  ws.residual = take({T, H});
  ws.delta = take({T, H});
  ws.normed = take({T, H});
  ws.qkv = take({T, 3 * H});
  ws.attn = take({T, H});
  ws.fc = take({T, F});
  FERRY_CHECK(static_cast<std::size_t>(p - base) <= workspace_bytes(spec, rows), "workspace overrun");
  return ws;
}

void embed(Stream& s, const ModelSpec& /*spec*/, const PackLayout& layout0, const std::byte* pack0,
           const Batch& batch, Workspace& ws) {
  const DeviceKind d = s.device();
  ops::embedding(s, batch.ids, batch.pos, layout0.view(pack0, "wte.weight", d), layout0.view(pack0, "wpe.weight", d),
                 ws.residual);
  ws.has_delta = false;
}

void block(Stream& s, const ModelSpec& spec, const PackLayout& layout, const std::byte* pack, const Batch& batch,
           Workspace& ws, const KVLayer& kv) {
  const DeviceKind d = s.device();
  auto w = [&](const char* name) { return layout.view(pack, name, d); };
  const TensorView no_delta;
  // x = x + delta (previous block's MLP); a = ln_1(x)
  ops::add_layernorm(s, ws.residual, ws.has_delta ? ws.delta : no_delta, w("ln_1.weight"), w("ln_1.bias"),
                     spec.norm_epsilon, ws.normed);
  // qkv = a · W_attn + b   [T, 3H]
  ops::linear(s, ws.normed, w("attn.c_attn.weight"), ops::WeightLayout::KN, w("attn.c_attn.bias"),
              ops::Activation::None, ws.qkv);
  ops::kv_append(s, ws.qkv, batch.seq, batch.pos, kv.k, kv.v);
  if (batch.decode)
    ops::attention_decode(s, ws.qkv, kv.k, kv.v, batch.seq, batch.len, spec.num_heads, ws.attn);
  else
    ops::attention_prefill(s, ws.qkv, batch.offsets, spec.num_heads, ws.attn);
  // delta = attn · W_proj + b; x = x + delta; a = ln_2(x)
  ops::linear(s, ws.attn, w("attn.c_proj.weight"), ops::WeightLayout::KN, w("attn.c_proj.bias"),
              ops::Activation::None, ws.delta);
  ops::add_layernorm(s, ws.residual, ws.delta, w("ln_2.weight"), w("ln_2.bias"), spec.norm_epsilon, ws.normed);
  // fc = act(a · W_fc + b); delta = fc · W_proj2 + b (added by the next norm)
  ops::linear(s, ws.normed, w("mlp.c_fc.weight"), ops::WeightLayout::KN, w("mlp.c_fc.bias"), spec.activation, ws.fc);
  ops::linear(s, ws.fc, w("mlp.c_proj.weight"), ops::WeightLayout::KN, w("mlp.c_proj.bias"), ops::Activation::None,
              ws.delta);
  ws.has_delta = true;
}

void final_norm(Stream& s, const ModelSpec& spec, const PackLayout& layout0, const std::byte* pack0, Workspace& ws) {
  const DeviceKind d = s.device();
  const TensorView no_delta;
  ops::add_layernorm(s, ws.residual, ws.has_delta ? ws.delta : no_delta, layout0.view(pack0, "ln_f.weight", d),
                     layout0.view(pack0, "ln_f.bias", d), spec.norm_epsilon, ws.normed);
  ws.has_delta = false;
}

void lm_head(Stream& s, const ModelSpec& spec, const PackLayout& layout0, const std::byte* pack0, TensorView x,
             TensorView logits) {
  const char* head = spec.tied_embeddings ? "wte.weight" : "lm_head.weight";
  ops::logits(s, x, layout0.view(pack0, head, s.device()), logits);
}

double pass_flops(const ModelSpec& spec, std::int64_t rows, std::int64_t attended, std::int64_t logit_rows) {
  const double H = spec.hidden_size, F = spec.ffn_size, V = spec.vocab_size, L = spec.num_layers;
  // Per row and block: c_attn H x 3H, c_proj H x H, c_fc H x F, mlp c_proj F x H.
  const double gemm = 2.0 * (3 * H * H + H * H + 2 * H * F);
  // Per attended (query, key) pair and block: q.k over H and p.v over H.
  const double attn = 2.0 * 2.0 * H;
  return L * (gemm * static_cast<double>(rows) + attn * static_cast<double>(attended)) +
         2.0 * H * V * static_cast<double>(logit_rows);
}

}  // namespace ferry::gpt2
