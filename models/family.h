// ModelFamily: what the engine, the planner and the tools know of a model architecture. Each family
// (models/gpt2.cpp, models/llama.cpp) implements it; nothing above models/ names a family.
// A family says which tensors a checkpoint must hold (Hugging Face names and shapes) and where each
// sits in the packs (pack 0 = embeddings, final norm and head; pack 1 + b = block b), the shapes of
// the activations and of the KV cache, and the forward pass of its parts, written against ops/.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/backend.h"
#include "memory/layer_pack.h"
#include "models/model_spec.h"

namespace ferry {

// One checkpoint tensor and its place in a pack. Several checkpoint tensors may fill one pack tensor
// (LLaMA's q/k/v projections become one [q+k+v, H] matrix, gate and up one [2F, H] matrix): each then
// covers rows [row_offset, row_offset + shape[0]) of `pack_shape`, in table order.
struct TensorInfo {
  std::string name;   // checkpoint name ("h.0.attn.c_attn.weight", "model.layers.0.self_attn.q_proj.weight")
  Shape shape;        // its shape in the checkpoint
  int pack;           // 0 = static pack, 1..L = block
  std::string local;  // name of the pack tensor it fills ("attn.c_attn.weight", "qkv")
  Shape pack_shape;   // shape of that pack tensor (empty: the same as `shape`)
  std::int64_t row_offset = 0;
  // The pack tensor is this [K, N] tensor transposed, pack_shape [N, K] (GPT-2's Conv1D weights:
  // the NK layout's kernels are the faster on the CPU, docs/cpu-kernels.md). Whole tensors only.
  bool transpose = false;
  const Shape& packed_shape() const { return pack_shape.rank == 0 ? shape : pack_shape; }
};

// How random weights are drawn for a tensor (models/random_source.cpp).
struct RandomInit {
  enum class Kind : std::uint8_t { Normal, Zero, One } kind = Kind::Normal;
  float std_dev = 0.02f;
};

// The tokens of one forward pass: T rows (packed sequences in prefill, one row per live sequence
// in decode). All index tensors are i32 in memory the compute device can read.
struct Batch {
  TensorView ids;      // [T]
  TensorView pos;      // [T] position of each row in its sequence
  TensorView seq;      // [T] sequence (KV cache slot) of each row
  TensorView offsets;  // [B+1] prefill only: rows of sequence b are [offsets[b], offsets[b+1])
  TensorView len;      // [B] decode: keys visible to row b (its position + 1); padded prefill: the
                       // real tokens of sequence b (the rest of its rows are padding, masked as keys)
  TensorView types;    // [T] token type (segment) of each row: encoders only (BERT's sentence A / B)
  bool decode = false;
  bool padded = false;  // prefill of a padded batch (the comparison layout of `ferry bench encoder`)
  int rows = 0;        // T
};

// Activations of one pass, f32, rows = T. Which of them a family uses, and their widths, are its own.
struct Workspace {
  TensorView residual;  // [T, H] the residual stream
  TensorView delta;     // [T, H] the last block's MLP output, not yet added to residual
  TensorView normed;    // [T, H] the normed residual; after final_norm, the head's input
  TensorView qkv;       // [T, q + k + v]
  TensorView attn;      // [T, heads x head_dim]
  TensorView fc;        // [T, F] (GPT-2) or [T, 2F] (LLaMA: gate | up)
  TensorView mlp;       // [T, F] LLaMA: SiLU(gate) * up
  TensorView scores;    // [heads, L, L] padded encoder batches only: the unfused attention's score matrix
  bool has_delta = false;
};

// One layer's KV cache: [S, cap, kv_width] each, f32.
struct KVLayer {
  TensorView k;
  TensorView v;
};

// The task heads of an encoder (BERT's BertModel / BertFor* modules), on rows of the last hidden state.
enum class EncoderHead : std::uint8_t {
  Pooler,              // x = each sequence's first ([CLS]) row -> [B, H]
  MaskedLm,            // x = any rows -> [R, vocab] logits
  SequenceClassifier,  // x = each sequence's first row -> [B, labels] logits
  TokenClassifier,     // x = every row -> [T, labels] logits
  SpanQa,              // x = every row -> [T, 2] start | end logits
};

class ModelFamily {
 public:
  virtual ~ModelFamily() = default;
  virtual const char* name() const = 0;
  // Decoders attend causally, keep a KV cache and generate; encoders (causal() false) attend over the
  // whole sequence and run the heads below instead of lm_head.
  virtual bool causal() const { return true; }
  // Every checkpoint tensor in pack order (pack 0 first).
  virtual std::vector<TensorInfo> tensors(const ModelSpec& spec) const = 0;
  virtual RandomInit random_init(const ModelSpec& spec, const TensorInfo& t) const = 0;
  virtual std::uint64_t parameter_count(const ModelSpec& spec) const = 0;  // BadInput on overflow
  // Bytes of a Workspace for `rows` rows, and the Workspace carved from `base`.
  virtual std::size_t workspace_bytes(const ModelSpec& spec, int rows) const = 0;
  virtual Workspace carve_workspace(const ModelSpec& spec, int rows, std::byte* base, DeviceKind device) const = 0;
  virtual int kv_width(const ModelSpec& spec) const = 0;  // columns of one KV cache row
  // residual = the embedding of batch.ids (and positions, where the family has them)
  virtual void embed(Stream& s, const ModelSpec& spec, const PackLayout& layout0, const std::byte* pack0,
                     const Batch& batch, Workspace& ws) const = 0;
  // One block, in place on ws.residual / ws.delta, writing this block's K/V to kv.
  virtual void block(Stream& s, const ModelSpec& spec, const PackLayout& layout, const std::byte* pack,
                     const Batch& batch, Workspace& ws, const KVLayer& kv) const = 0;
  // Adds the pending delta and applies the final norm: ws.normed = norm(residual).
  virtual void final_norm(Stream& s, const ModelSpec& spec, const PackLayout& layout0, const std::byte* pack0,
                          Workspace& ws) const = 0;
  // logits[R, V] from x[R, H].
  virtual void lm_head(Stream& s, const ModelSpec& spec, const PackLayout& layout0, const std::byte* pack0,
                       TensorView x, TensorView logits) const = 0;
  // The arithmetic of one pass (a multiply-add is 2 FLOPs): `rows` rows through every block,
  // attention over `attended` (query, key) pairs summed over the rows, and the head for
  // `logit_rows` rows. For the compute term of the bound (runtime/bound.h).
  virtual double pass_flops(const ModelSpec& spec, std::int64_t rows, std::int64_t attended,
                            std::int64_t logit_rows) const = 0;
  // Encoder heads (causal() false). The width of a head's output row; BadInput unless the checkpoint
  // carries the head (naming what is missing); out[R, width] = head(x[R, H]) with tmp[R, 2H] as
  // workspace. The base class has no heads: BadInput.
  virtual int head_width(const ModelSpec& spec, EncoderHead h) const;
  virtual void check_head(const ModelSpec& spec, EncoderHead h) const;
  virtual void encoder_head(Stream& s, const ModelSpec& spec, const PackLayout& layout0, const std::byte* pack0,
                            EncoderHead h, TensorView x, TensorView tmp, TensorView out) const;
  // The Hugging Face config.json of this model (what `ferry export` writes beside the weights).
  virtual std::string hf_config_json(const ModelSpec& spec) const = 0;
};

// The family of spec.family; BadInput naming it when unknown.
const ModelFamily& model_family(const ModelSpec& spec);
const ModelFamily& model_family(const std::string& family);
std::vector<std::string> family_names();  // "gpt2", "llama", "bert"
const char* encoder_head_name(EncoderHead h);  // "pooler", "masked_lm", ...

// The pack layouts of a model: the family's tensors in `weight_dtype`. Quantized packs can come
// later: a PackedTensor carries its own dtype.
std::vector<PackLayout> pack_layouts(const ModelSpec& spec, DType weight_dtype);

}  // namespace ferry
