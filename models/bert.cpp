// BERT (Devlin et al. 2019, "BERT: Pre-training of Deep Bidirectional Transformers"): an encoder of
// post-LayerNorm blocks over bidirectional attention,
//   x = LN(word[id] + position[pos] + token_type[type])
//   x = LN(x + o(attn(q, k, v)));  x = LN(x + out(gelu(fc(x))))
// and its task heads (Hugging Face's BertModel / BertFor* modules):
//   pooler:        tanh(dense(x[CLS]))
//   masked LM:     LN(gelu(dense(x))) · word^T + bias   (the decoder tied to the word embeddings)
//   sequence cls.: classifier(pooler(x[CLS]));  token cls.: classifier(x);  QA: qa_outputs(x) = start | end
// Tensors keep their Hugging Face names without "bert." (the checkpoint reader strips it). q, k and v
// form one [3H, H] matrix, so a block's input projection is one GEMM (nn.Linear layout, y = x W^T).
#include <cmath>
#include <string>
#include <utility>

#include "base/error.h"
#include "models/family_common.h"
#include "ops/ops.h"

namespace ferry {
namespace {

std::string layer(int b) { return "encoder.layer." + std::to_string(b) + "."; }

bool has_pooler(const ModelSpec& spec) { return spec.head == "model" || spec.head == "sequence_classification"; }

ops::AttentionShape attention_shape(const ModelSpec& spec) {
  ops::AttentionShape a;
  a.n_heads = spec.num_heads;
  a.n_kv_heads = spec.num_heads;
  a.head_dim = spec.head_dim();
  a.scale = 1.0f / std::sqrt(static_cast<float>(spec.head_dim()));
  a.causal = false;
  return a;
}

// The tensors of pack 0: embeddings and the head the checkpoint carries.
void static_tensors(const ModelSpec& spec, std::vector<TensorInfo>& t) {
  const std::int64_t V = spec.vocab_size, H = spec.hidden_size, C = spec.context_length;
  const std::int64_t TV = spec.type_vocab_size, NL = static_cast<std::int64_t>(spec.labels.size());
  auto add = [&](std::string name, Shape shape, std::string local) {
    t.push_back(TensorInfo{std::move(name), shape, 0, std::move(local), Shape{}, 0});
  };
  add("embeddings.word_embeddings.weight", {V, H}, "word");
  add("embeddings.position_embeddings.weight", {C, H}, "position");
  add("embeddings.token_type_embeddings.weight", {TV, H}, "token_type");
  add("embeddings.LayerNorm.weight", {H}, "emb_ln.weight");
  add("embeddings.LayerNorm.bias", {H}, "emb_ln.bias");
  if (has_pooler(spec)) {
    add("pooler.dense.weight", {H, H}, "pooler.weight");
    add("pooler.dense.bias", {H}, "pooler.bias");
  }
  if (spec.head == "masked_lm") {
    add("cls.predictions.transform.dense.weight", {H, H}, "mlm.dense.weight");
    add("cls.predictions.transform.dense.bias", {H}, "mlm.dense.bias");
    add("cls.predictions.transform.LayerNorm.weight", {H}, "mlm.ln.weight");
    add("cls.predictions.transform.LayerNorm.bias", {H}, "mlm.ln.bias");
    if (!spec.tied_embeddings) add("cls.predictions.decoder.weight", {V, H}, "mlm.decoder");
    add("cls.predictions.bias", {V}, "mlm.bias");
  }
  if (spec.head == "sequence_classification" || spec.head == "token_classification") {
    add("classifier.weight", {NL, H}, "classifier.weight");
    add("classifier.bias", {NL}, "classifier.bias");
  }
  if (spec.head == "question_answering") {
    add("qa_outputs.weight", {2, H}, "qa.weight");
    add("qa_outputs.bias", {2}, "qa.bias");
  }
}

class BertFamily final : public ModelFamily {
 public:
  const char* name() const override { return "bert"; }
  bool causal() const override { return false; }
  std::string hf_config_json(const ModelSpec& spec) const override { return bert_hf_config_json(spec); }

  std::vector<TensorInfo> tensors(const ModelSpec& spec) const override {
    const std::int64_t H = spec.hidden_size, F = spec.ffn_size;
    std::vector<TensorInfo> t;
    static_tensors(spec, t);
    auto add = [&](std::string name, Shape shape, int pack, std::string local, Shape pack_shape = Shape{},
                   std::int64_t row = 0) {
      t.push_back(TensorInfo{std::move(name), shape, pack, std::move(local), pack_shape, row});
    };
    for (int b = 0; b < spec.num_layers; ++b) {
      const std::string p = layer(b);
      const int k = b + 1;
      add(p + "attention.self.query.weight", {H, H}, k, "qkv", {3 * H, H}, 0);
      add(p + "attention.self.key.weight", {H, H}, k, "qkv", {3 * H, H}, H);
      add(p + "attention.self.value.weight", {H, H}, k, "qkv", {3 * H, H}, 2 * H);
      add(p + "attention.self.query.bias", {H}, k, "qkv_bias", {3 * H}, 0);
      add(p + "attention.self.key.bias", {H}, k, "qkv_bias", {3 * H}, H);
      add(p + "attention.self.value.bias", {H}, k, "qkv_bias", {3 * H}, 2 * H);
      add(p + "attention.output.dense.weight", {H, H}, k, "o");
      add(p + "attention.output.dense.bias", {H}, k, "o_bias");
      add(p + "attention.output.LayerNorm.weight", {H}, k, "attn_ln.weight");
      add(p + "attention.output.LayerNorm.bias", {H}, k, "attn_ln.bias");
      add(p + "intermediate.dense.weight", {F, H}, k, "fc");
      add(p + "intermediate.dense.bias", {F}, k, "fc_bias");
      add(p + "output.dense.weight", {H, F}, k, "out");
      add(p + "output.dense.bias", {H}, k, "out_bias");
      add(p + "output.LayerNorm.weight", {H}, k, "out_ln.weight");
      add(p + "output.LayerNorm.bias", {H}, k, "out_ln.bias");
    }
    return t;
  }

  // As transformers' BertPreTrainedModel._init_weights: normal(0, 0.02) matrices and embeddings,
  // zero biases, unit LayerNorm gains.
  RandomInit random_init(const ModelSpec& /*spec*/, const TensorInfo& t) const override {
    const std::string& l = t.local;
    const bool ln = l.find("ln.") != std::string::npos;
    if (ln && l.compare(l.size() - 6, 6, "weight") == 0) return {RandomInit::Kind::One, 0};
    if (ln || l.find("bias") != std::string::npos) return {RandomInit::Kind::Zero, 0};
    return {RandomInit::Kind::Normal, 0.02f};
  }

  std::uint64_t parameter_count(const ModelSpec& spec) const override { return count_parameters(spec, *this); }

  std::size_t workspace_bytes(const ModelSpec& spec, int rows) const override { return mha_workspace_bytes(spec, rows); }

  Workspace carve_workspace(const ModelSpec& spec, int rows, std::byte* base, DeviceKind device) const override {
    return carve_mha_workspace(spec, rows, base, device);
  }

  int kv_width(const ModelSpec& spec) const override { return spec.hidden_size; }

  // residual = LN(word[id] + position[pos] + token_type[type]); ws.normed and ws.delta hold the sums.
  void embed(Stream& s, const ModelSpec& spec, const PackLayout& layout0, const std::byte* pack0, const Batch& batch,
             Workspace& ws) const override {
    const DeviceKind d = s.device();
    auto w = [&](const char* name) { return layout0.view(pack0, name, d); };
    FERRY_CHECK(batch.types.data != nullptr, "bert: the batch has no token types");
    ops::embedding(s, batch.ids, batch.pos, w("word"), w("position"), ws.normed);
    ops::embedding_lookup(s, batch.types, w("token_type"), 1.0f, ws.delta);
    ops::add_layernorm(s, ws.normed, ws.delta, w("emb_ln.weight"), w("emb_ln.bias"), spec.norm_epsilon, ws.residual);
    ws.has_delta = false;
  }

  // Post-LN: each sublayer's output is added into the residual by the projection's epilogue, and the
  // LayerNorm of the sum is written to ws.normed, which then becomes the residual (a swap of views).
  void block(Stream& s, const ModelSpec& spec, const PackLayout& layout, const std::byte* pack, const Batch& batch,
             Workspace& ws, const KVLayer& /*kv: an encoder keeps no cache*/) const override {
    const DeviceKind d = s.device();
    auto w = [&](const char* name) { return layout.view(pack, name, d); };
    const TensorView none;
    FERRY_CHECK(!batch.decode, "bert: an encoder has no decode step");
    ops::linear(s, ws.residual, w("qkv"), ops::WeightLayout::NK, w("qkv_bias"), ops::Activation::None, ws.qkv);
    const ops::AttentionShape a = attention_shape(spec);
    if (batch.padded)  // the comparison path: padded rows, the score matrix, pad keys masked
      ops::attention_prefill_unfused(s, ws.qkv, batch.offsets, batch.len, a, ws.scores, ws.attn);
    else
      ops::attention_prefill(s, ws.qkv, batch.offsets, a, ws.attn);
    ops::linear_residual(s, ws.attn, w("o"), ops::WeightLayout::NK, w("o_bias"), 1.0f, ws.delta, ws.residual);
    ops::add_layernorm(s, ws.residual, none, w("attn_ln.weight"), w("attn_ln.bias"), spec.norm_epsilon, ws.normed);
    std::swap(ws.residual, ws.normed);
    ops::linear(s, ws.residual, w("fc"), ops::WeightLayout::NK, w("fc_bias"), spec.activation, ws.fc);
    ops::linear_residual(s, ws.fc, w("out"), ops::WeightLayout::NK, w("out_bias"), 1.0f, ws.delta, ws.residual);
    ops::add_layernorm(s, ws.residual, none, w("out_ln.weight"), w("out_ln.bias"), spec.norm_epsilon, ws.normed);
    std::swap(ws.residual, ws.normed);
  }

  // BERT has no final norm: the last block's output is the hidden state, handed over in ws.normed.
  void final_norm(Stream& /*s*/, const ModelSpec& /*spec*/, const PackLayout& /*layout0*/,
                  const std::byte* /*pack0*/, Workspace& ws) const override {
    std::swap(ws.residual, ws.normed);
  }

  void lm_head(Stream& /*s*/, const ModelSpec& spec, const PackLayout& /*layout0*/, const std::byte* /*pack0*/,
               TensorView /*x*/, TensorView /*logits*/) const override {
    throw BadInput("model " + spec.name + " is an encoder (family bert): it does not generate text; use ferry embed, "
                   "fill-mask or classify");
  }

  int head_width(const ModelSpec& spec, EncoderHead h) const override {
    switch (h) {
      case EncoderHead::Pooler: return spec.hidden_size;
      case EncoderHead::MaskedLm: return spec.vocab_size;
      case EncoderHead::SequenceClassifier:
      case EncoderHead::TokenClassifier: return static_cast<int>(spec.labels.size());
      case EncoderHead::SpanQa: return 2;
    }
    return 0;
  }

  void check_head(const ModelSpec& spec, EncoderHead h) const override {
    const char* need = nullptr;
    bool ok = false;
    switch (h) {
      case EncoderHead::Pooler: ok = has_pooler(spec), need = "a pooler (pooler.dense.*: BertModel or BertForSequenceClassification)"; break;
      case EncoderHead::MaskedLm: ok = spec.head == "masked_lm", need = "a masked-LM head (cls.predictions.*: BertForMaskedLM)"; break;
      case EncoderHead::SequenceClassifier: ok = spec.head == "sequence_classification", need = "a sequence classification head (BertForSequenceClassification)"; break;
      case EncoderHead::TokenClassifier: ok = spec.head == "token_classification", need = "a token classification head (BertForTokenClassification)"; break;
      case EncoderHead::SpanQa: ok = spec.head == "question_answering", need = "a question answering head (qa_outputs.*: BertForQuestionAnswering)"; break;
    }
    if (!ok) throw BadInput("model " + spec.name + " (head '" + spec.head + "') lacks " + need);
  }

  void encoder_head(Stream& s, const ModelSpec& spec, const PackLayout& layout0, const std::byte* pack0, EncoderHead h,
                    TensorView x, TensorView tmp, TensorView out) const override {
    check_head(spec, h);
    const DeviceKind d = s.device();
    auto w = [&](const char* name) { return layout0.view(pack0, name, d); };
    const auto NK = ops::WeightLayout::NK;
    const std::int64_t R = x.dim(0), H = spec.hidden_size;
    FERRY_CHECK(tmp.dim(0) >= R && tmp.dim(1) >= 2 * H, "bert: head workspace must be [rows, 2H]");
    auto half = [&](int i) {
      TensorView v = tmp;
      v.shape = Shape{R, H};
      v.data = static_cast<float*>(tmp.data) + static_cast<std::int64_t>(i) * R * H;
      return v;
    };
    const TensorView none;
    switch (h) {
      case EncoderHead::Pooler:
        ops::linear(s, x, w("pooler.weight"), NK, w("pooler.bias"), ops::Activation::Tanh, out);
        return;
      case EncoderHead::SequenceClassifier:
        ops::linear(s, x, w("pooler.weight"), NK, w("pooler.bias"), ops::Activation::Tanh, half(0));
        ops::linear(s, half(0), w("classifier.weight"), NK, w("classifier.bias"), ops::Activation::None, out);
        return;
      case EncoderHead::TokenClassifier:
        ops::linear(s, x, w("classifier.weight"), NK, w("classifier.bias"), ops::Activation::None, out);
        return;
      case EncoderHead::SpanQa:
        ops::linear(s, x, w("qa.weight"), NK, w("qa.bias"), ops::Activation::None, out);
        return;
      case EncoderHead::MaskedLm: {
        ops::linear(s, x, w("mlm.dense.weight"), NK, w("mlm.dense.bias"), spec.activation, half(0));
        ops::add_layernorm(s, half(0), none, w("mlm.ln.weight"), w("mlm.ln.bias"), spec.norm_epsilon, half(1));
        const char* decoder = spec.tied_embeddings ? "word" : "mlm.decoder";
        ops::linear(s, half(1), w(decoder), NK, w("mlm.bias"), ops::Activation::None, out);
        return;
      }
    }
  }

  double pass_flops(const ModelSpec& spec, std::int64_t rows, std::int64_t attended,
                    std::int64_t logit_rows) const override {
    const double H = spec.hidden_size, F = spec.ffn_size, L = spec.num_layers;
    // Per row and block: qkv H x 3H, o H x H, fc H x F, out F x H; per attended pair q.k and p.v.
    const double gemm = 2.0 * (3 * H * H + H * H + 2 * H * F);
    const double attn = 2.0 * 2.0 * H;
    return L * (gemm * static_cast<double>(rows) + attn * static_cast<double>(attended)) +
           2.0 * H * H * static_cast<double>(logit_rows);
  }
};

}  // namespace

const ModelFamily& bert_family() {
  static const BertFamily f;
  return f;
}

}  // namespace ferry
