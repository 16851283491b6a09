// The family registry, pack layouts from a family's tensor table, and the helpers of family_common.h.
#include <map>
#include <optional>

#include "base/checked.h"
#include "base/error.h"
#include "memory/buffer.h"
#include "models/family_common.h"

namespace ferry {

std::vector<std::string> family_names() { return {"gpt2", "llama", "bert"}; }

const ModelFamily& model_family(const std::string& family) {
  if (family == "gpt2") return gpt2_family();
  if (family == "llama") return llama_family();
  if (family == "bert") return bert_family();
  throw BadInput("unknown model family '" + family + "' (known: gpt2, llama, bert)");
}

const char* encoder_head_name(EncoderHead h) {
  switch (h) {
    case EncoderHead::Pooler: return "pooler";
    case EncoderHead::MaskedLm: return "masked_lm";
    case EncoderHead::SequenceClassifier: return "sequence_classification";
    case EncoderHead::TokenClassifier: return "token_classification";
    case EncoderHead::SpanQa: return "question_answering";
  }
  return "?";
}

int ModelFamily::head_width(const ModelSpec& spec, EncoderHead h) const {
  check_head(spec, h);
  return 0;
}

void ModelFamily::check_head(const ModelSpec& spec, EncoderHead h) const {
  throw BadInput("model " + spec.name + " (family " + name() + ") is a decoder: it has no " + encoder_head_name(h) +
                 " head (encoders: family bert)");
}

void ModelFamily::encoder_head(Stream& /*s*/, const ModelSpec& spec, const PackLayout& /*layout0*/,
                               const std::byte* /*pack0*/, EncoderHead h, TensorView /*x*/, TensorView /*tmp*/,
                               TensorView /*out*/) const {
  check_head(spec, h);
}

const ModelFamily& model_family(const ModelSpec& spec) { return model_family(spec.family); }

std::vector<PackLayout> pack_layouts(const ModelSpec& spec, DType weight_dtype) {
  std::vector<PackLayout> packs(static_cast<std::size_t>(spec.num_layers) + 1);
  for (const TensorInfo& t : model_family(spec).tensors(spec)) {
    if (t.row_offset != 0) continue;  // a later part of a pack tensor already added
    packs.at(static_cast<std::size_t>(t.pack)).add(t.local, weight_dtype, t.packed_shape());
  }
  return packs;
}

TensorView WorkspaceCarver::take(std::int64_t width) {
  TensorView v(static_cast<void*>(p_), DType::F32, Shape{rows_, width}, device_);
  p_ += align_up(v.bytes(), kAlign);
  return v;
}

std::size_t WorkspaceCarver::bytes(int rows, std::initializer_list<std::int64_t> widths) {
  std::size_t n = 0;
  for (std::int64_t w : widths)
    n += align_up(static_cast<std::size_t>(rows) * static_cast<std::size_t>(w) * sizeof(float), kAlign);
  return n;
}

std::size_t mha_workspace_bytes(const ModelSpec& spec, int rows) {
  const std::int64_t H = spec.hidden_size;
  return WorkspaceCarver::bytes(rows, {H, H, H, 3 * H, H, spec.ffn_size});
}

Workspace carve_mha_workspace(const ModelSpec& spec, int rows, std::byte* base, DeviceKind device) {
  const std::int64_t H = spec.hidden_size;
  WorkspaceCarver c(base, rows, device);
  Workspace ws;
  ws.residual = c.take(H);
  ws.delta = c.take(H);
  ws.normed = c.take(H);
  ws.qkv = c.take(3 * H);
  ws.attn = c.take(H);
  ws.fc = c.take(spec.ffn_size);
  FERRY_CHECK(c.used() <= mha_workspace_bytes(spec, rows), "workspace overrun");
  return ws;
}

std::uint64_t count_parameters(const ModelSpec& spec, const ModelFamily& family) {
  const auto fail = [&]() -> std::uint64_t {
    throw BadInput("model " + spec.name + ": parameter count does not fit in 64 bits");
  };
  // The table's shapes are products of the dimensions: refuse dimensions beyond the limits first.
  if (spec.vocab_size <= 0 || spec.vocab_size > kMaxVocabSize || spec.hidden_size <= 0 ||
      spec.hidden_size > kMaxHiddenSize || spec.ffn_size <= 0 || spec.ffn_size > kMaxFfnSize ||
      spec.num_layers <= 0 || spec.num_layers > kMaxNumLayers || spec.num_heads <= 0 ||
      spec.num_heads > kMaxHiddenSize || spec.kv_heads() <= 0 || spec.kv_heads() > spec.num_heads ||
      spec.head_dim() <= 0 || spec.head_dim() > kMaxHiddenSize)
    return fail();
  std::uint64_t n = 0;
  for (const TensorInfo& t : family.tensors(spec)) {
    std::uint64_t e = 1;
    for (int i = 0; i < t.shape.rank; ++i) {
      const std::optional<std::uint64_t> r = checked_mul(e, static_cast<std::uint64_t>(t.shape[i]));
      e = r ? *r : fail();
    }
    const std::optional<std::uint64_t> r = checked_add(n, e);
    n = r ? *r : fail();
  }
  return n;
}

}  // namespace ferry
