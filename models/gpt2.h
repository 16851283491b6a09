// GPT-2: the pack layouts of its weights and the forward pass of its parts, written against ops/.
// Pre-LN transformer (Radford et al. 2019): x += attn(ln_1(x)); x += mlp(ln_2(x)); logits =
// ln_f(x) · wte^T. Every residual add is fused into the LayerNorm that follows it, so a block's
// MLP output ("delta") is added by the next block's ln_1 (or by ln_f).
#pragma once
#include <vector>

#include "base/backend.h"
#include "memory/layer_pack.h"
#include "models/model_spec.h"

namespace ferry::gpt2 {

// [0] = static pack (wte, wpe, ln_f, lm_head when untied), [1..L] = blocks; tensors keep their
// Hugging Face shapes (Conv1D weights [in, out]) in `weight_dtype`.
std::vector<PackLayout> pack_layouts(const ModelSpec& spec, DType weight_dtype);

// The tokens of one forward pass: T rows (packed sequences in prefill, one row per live sequence
// in decode). All index tensors are i32 in memory the compute device can read.
struct Batch {
  TensorView ids;      // [T]
  TensorView pos;      // [T] position of each row in its sequence
  TensorView seq;      // [T] sequence (KV cache slot) of each row
  TensorView offsets;  // [B+1] prefill only: rows of sequence b are [offsets[b], offsets[b+1])
  TensorView len;      // [B] decode only: keys visible to row b (its position + 1)
  bool decode = false;
  int rows = 0;        // T
};

// Activations of one pass, f32, rows = T.
struct Workspace {
  TensorView residual;  // [T, H] the residual stream
  TensorView delta;     // [T, H] the last block's MLP output, not yet added to residual
  TensorView normed;    // [T, H]
  TensorView qkv;       // [T, 3H]
  TensorView attn;      // [T, H]
  TensorView fc;        // [T, F]
  bool has_delta = false;
};
// Bytes of a Workspace for `rows` rows (each tensor 256-byte aligned).
std::size_t workspace_bytes(const ModelSpec& spec, int rows);
// The arithmetic of one pass (a multiply-add is 2 FLOPs): `rows` rows through every block (the four
// GEMMs), attention over `attended` (query, key) pairs summed over the rows and heads' hidden width,
// and the LM head for `logit_rows` rows. For the compute term of the bound (runtime/bound.h).
double pass_flops(const ModelSpec& spec, std::int64_t rows, std::int64_t attended, std::int64_t logit_rows);
// Carves a Workspace for `rows` rows out of `base` (workspace_bytes(spec, rows) bytes).
Workspace carve_workspace(const ModelSpec& spec, int rows, std::byte* base, DeviceKind device);

// One layer's KV cache: [S, cap, H] each, f32.
struct KVLayer {
  TensorView k;
  TensorView v;
};

// residual = wte[ids] + wpe[pos]
void embed(Stream& s, const ModelSpec& spec, const PackLayout& layout0, const std::byte* pack0,
           const Batch& batch, Workspace& ws);
// One transformer block, in place on ws.residual / ws.delta, writing this block's K/V to kv.
void block(Stream& s, const ModelSpec& spec, const PackLayout& layout, const std::byte* pack,
           const Batch& batch, Workspace& ws, const KVLayer& kv);
// Adds the pending delta and applies ln_f: ws.normed = ln_f(residual).
void final_norm(Stream& s, const ModelSpec& spec, const PackLayout& layout0, const std::byte* pack0,
                Workspace& ws);
// logits[R, V] = x[R, H] · head^T, head = wte (tied) or lm_head.
void lm_head(Stream& s, const ModelSpec& spec, const PackLayout& layout0, const std::byte* pack0,
             TensorView x, TensorView logits);

}  // namespace ferry::gpt2
