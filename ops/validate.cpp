#include "ops/validate.h"

#include <array>
#include <cmath>
#include <initializer_list>
#include <string>
#include <utility>

namespace ferry::ops::check {
namespace {

// Collects the operands of one op call; require() throws InternalError listing all of them.
class OpCheck {
 public:
  using Operand = std::pair<const char*, const TensorView*>;
  OpCheck(const char* op, std::initializer_list<Operand> operands) : op_(op) {
    for (const auto& o : operands)
      if (n_ < operands_.size()) operands_[n_++] = o;
  }

  void require(bool cond, const char* what) const {
    if (!cond) fail(what);
  }
  [[noreturn]] void fail(const std::string& what) const {
    std::string msg = std::string(op_) + ": " + what + " (";
    bool first = true;
    for (std::size_t i = 0; i < n_; ++i) {
      const auto& [name, v] = operands_[i];
      if (!first) msg += ", ";
      first = false;
      msg += name;
      msg += "=";
      msg += v->present() ? v->shape.str() + " " + dtype_name(v->dtype) : std::string("absent");
    }
    throw InternalError(msg + ")");
  }
  // Required operand: data present unless it has no elements, and of rank `rank`.
  void tensor(const TensorView& v, const char* name, int rank) const {
    if (v.shape.rank != rank) fail(std::string(name) + " must have rank " + std::to_string(rank));
    for (int i = 0; i < rank; ++i)
      if (v.shape[i] < 0) fail(std::string(name) + " has a negative dimension");
    if (!v.present() && v.numel() > 0) fail(std::string(name) + " has no data");
  }
  void dtype(const TensorView& v, const char* name, DType t) const {
    if (v.dtype != t) fail(std::string(name) + " must be " + dtype_name(t));
  }
  void weight(DeviceKind dev, const TensorView& v, const char* name) const {
    if (!weight_dtype_ok(dev, v.dtype))
      fail(std::string(name) + " has a weight dtype not supported on " + device_name(dev));
  }

 private:
  const char* op_;
  std::array<Operand, 8> operands_{};  // copied: the caller's braced list dies with its statement
  std::size_t n_ = 0;
};

}  // namespace

bool weight_dtype_ok(DeviceKind, DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

void embedding(DeviceKind dev, const TensorView& ids, const TensorView& pos, const TensorView& wte,
               const TensorView& wpe, const TensorView& out) {
  const OpCheck c("embedding", {{"ids", &ids}, {"pos", &pos}, {"wte", &wte}, {"wpe", &wpe}, {"out", &out}});
  c.tensor(ids, "ids", 1);
  c.tensor(pos, "pos", 1);
  c.tensor(wte, "wte", 2);
  c.tensor(wpe, "wpe", 2);
  c.tensor(out, "out", 2);
  c.dtype(ids, "ids", DType::I32);
  c.dtype(pos, "pos", DType::I32);
  c.weight(dev, wte, "wte");
  c.weight(dev, wpe, "wpe");
  c.dtype(out, "out", DType::F32);
  c.require(pos.dim(0) == ids.dim(0) && out.dim(0) == ids.dim(0), "ids, pos and out must have T rows");
  c.require(wte.dim(1) == out.dim(1) && wpe.dim(1) == out.dim(1), "wte, wpe and out must have H columns");
}

void add_layernorm(DeviceKind dev, const TensorView& residual, const TensorView& delta, const TensorView& gamma,
                   const TensorView& beta, float eps, const TensorView& out) {
  const OpCheck c("add_layernorm",
                  {{"residual", &residual}, {"delta", &delta}, {"gamma", &gamma}, {"beta", &beta}, {"out", &out}});
  c.tensor(residual, "residual", 2);
  c.tensor(gamma, "gamma", 1);
  c.tensor(beta, "beta", 1);
  c.tensor(out, "out", 2);
  c.dtype(residual, "residual", DType::F32);
  c.dtype(out, "out", DType::F32);
  c.weight(dev, gamma, "gamma");
  c.weight(dev, beta, "beta");
  c.require(out.shape == residual.shape, "out must have the shape of residual [T, H]");
  c.require(gamma.dim(0) == residual.dim(1) && beta.dim(0) == residual.dim(1), "gamma and beta must be [H]");
  if (delta.present()) {
    c.dtype(delta, "delta", DType::F32);
    c.require(delta.shape == residual.shape, "delta must have the shape of residual [T, H]");
  }
  c.require(std::isfinite(eps) && eps >= 0.0f, "eps must be finite and >= 0");
}

void linear(DeviceKind dev, const TensorView& x, const TensorView& w, WeightLayout layout, const TensorView& bias,
            const TensorView& out) {
  const OpCheck c(layout == WeightLayout::KN ? "linear (KN)" : "linear (NK)",
                  {{"x", &x}, {"w", &w}, {"bias", &bias}, {"out", &out}});
  c.tensor(x, "x", 2);
  c.tensor(w, "w", 2);
  c.tensor(out, "out", 2);
  c.dtype(x, "x", DType::F32);
  c.dtype(out, "out", DType::F32);
  c.weight(dev, w, "w");
  const std::int64_t k = layout == WeightLayout::KN ? w.dim(0) : w.dim(1);
  const std::int64_t n = layout == WeightLayout::KN ? w.dim(1) : w.dim(0);
  c.require(x.dim(1) == k, "x columns must equal K of w");
  c.require(out.dim(0) == x.dim(0) && out.dim(1) == n, "out must be [T, N]");
  if (bias.present()) {
    c.tensor(bias, "bias", 1);
    c.weight(dev, bias, "bias");
    c.require(bias.dim(0) == n, "bias must be [N]");
  }
}

void linear_residual(DeviceKind dev, const TensorView& x, const TensorView& w, WeightLayout layout,
                     const TensorView& bias, const TensorView& tmp, const TensorView& residual) {
  linear(dev, x, w, layout, bias, tmp);
  const OpCheck c("linear_residual", {{"tmp", &tmp}, {"residual", &residual}});
  c.tensor(residual, "residual", 2);
  c.dtype(residual, "residual", DType::F32);
  c.require(residual.shape == tmp.shape, "residual and tmp must both be [T, N]");
}

void linear_swiglu(DeviceKind dev, const TensorView& x, const TensorView& w, const TensorView& gate_up,
                   const TensorView& out) {
  linear(dev, x, w, WeightLayout::NK, TensorView{}, gate_up);
  swiglu(dev, gate_up, out);
}

void activation(DeviceKind /*dev*/, const TensorView& x) {
  const OpCheck c("activation", {{"x", &x}});
  c.require(x.shape.rank >= 1, "x must have rank >= 1");
  c.tensor(x, "x", x.shape.rank);
  c.dtype(x, "x", DType::F32);
}

void add(DeviceKind /*dev*/, const TensorView& x, const TensorView& y) {
  const OpCheck c("add", {{"x", &x}, {"y", &y}});
  c.require(x.shape.rank >= 1, "x must have rank >= 1");
  c.tensor(x, "x", x.shape.rank);
  c.tensor(y, "y", x.shape.rank);
  c.dtype(x, "x", DType::F32);
  c.dtype(y, "y", DType::F32);
  c.require(y.shape == x.shape, "y must have the shape of x");
}

void logits(DeviceKind dev, const TensorView& x, const TensorView& wte, const TensorView& out) {
  const OpCheck c("logits", {{"x", &x}, {"wte", &wte}, {"out", &out}});
  c.tensor(x, "x", 2);
  c.tensor(wte, "wte", 2);
  c.tensor(out, "out", 2);
  c.dtype(x, "x", DType::F32);
  c.dtype(out, "out", DType::F32);
  c.weight(dev, wte, "wte");
  c.require(wte.dim(1) == x.dim(1), "wte must be [V, H] with the H of x");
  c.require(out.dim(0) == x.dim(0) && out.dim(1) == wte.dim(0), "out must be [T, V]");
}

void attention_prefill(DeviceKind /*dev*/, const TensorView& qkv, const TensorView& offsets, int n_heads,
                       const TensorView& out) {
  const OpCheck c("attention_prefill", {{"qkv", &qkv}, {"offsets", &offsets}, {"out", &out}});
  c.tensor(qkv, "qkv", 2);
  c.tensor(offsets, "offsets", 1);
  c.tensor(out, "out", 2);
  c.dtype(qkv, "qkv", DType::F32);
  c.dtype(offsets, "offsets", DType::I32);
  c.dtype(out, "out", DType::F32);
  c.require(offsets.dim(0) >= 1, "offsets must be [B+1] with B >= 0");
  c.require(qkv.dim(1) % 3 == 0, "qkv must be [T, 3H]");
  const std::int64_t h = qkv.dim(1) / 3;
  c.require(out.dim(0) == qkv.dim(0) && out.dim(1) == h, "out must be [T, H]");
  c.require(n_heads > 0 && h % n_heads == 0, "n_heads must be > 0 and divide H");
}

void attention_prefill_unfused(DeviceKind /*dev*/, const TensorView& qkv, const TensorView& offsets, int n_heads,
                               const TensorView& scores, const TensorView& out) {
  const OpCheck c("attention_prefill_unfused",
                  {{"qkv", &qkv}, {"offsets", &offsets}, {"scores", &scores}, {"out", &out}});
  c.tensor(qkv, "qkv", 2);
  c.tensor(offsets, "offsets", 1);
  c.tensor(out, "out", 2);
  c.dtype(qkv, "qkv", DType::F32);
  c.dtype(offsets, "offsets", DType::I32);
  c.dtype(out, "out", DType::F32);
  c.require(offsets.dim(0) >= 1, "offsets must be [B+1] with B >= 0");
  c.require(qkv.dim(1) % 3 == 0, "qkv must be [T, 3H]");
  const std::int64_t h = qkv.dim(1) / 3;
  c.require(out.dim(0) == qkv.dim(0) && out.dim(1) == h, "out must be [T, H]");
  c.require(n_heads > 0 && h % n_heads == 0, "n_heads must be > 0 and divide H");
  c.tensor(scores, "scores", 3);
  c.dtype(scores, "scores", DType::F32);
  c.require(scores.dim(0) == n_heads, "scores must be [n_heads, max_len, max_len]");
  c.require(scores.dim(1) == scores.dim(2), "scores must be [n_heads, max_len, max_len] (square per head)");
}

void attention_prefill_unfused(DeviceKind dev, const TensorView& qkv, const TensorView& offsets, const TensorView& key_len,
                               const AttentionShape& a, const TensorView& scores, const TensorView& out) {
  attention_prefill_unfused(dev, qkv, offsets, a.n_heads, scores, out);
  const OpCheck c("attention_prefill_unfused", {{"qkv", &qkv}, {"key_len", &key_len}});
  c.require(a.n_kv_heads == a.n_heads, "the unfused path has no grouped-query heads (n_kv_heads must equal n_heads)");
  c.require(static_cast<std::int64_t>(a.n_heads) * a.head_dim == qkv.dim(1) / 3, "n_heads * head_dim must be H");
  if (!key_len.present()) return;
  c.tensor(key_len, "key_len", 1);
  c.dtype(key_len, "key_len", DType::I32);
  c.require(key_len.dim(0) == offsets.dim(0) - 1, "key_len must be [B], one length a sequence");
}

void kv_append(DeviceKind /*dev*/, const TensorView& qkv, const TensorView& seq, const TensorView& pos,
               const TensorView& k_cache, const TensorView& v_cache) {
  const OpCheck c("kv_append",
                  {{"qkv", &qkv}, {"seq", &seq}, {"pos", &pos}, {"k_cache", &k_cache}, {"v_cache", &v_cache}});
  c.tensor(qkv, "qkv", 2);
  c.tensor(seq, "seq", 1);
  c.tensor(pos, "pos", 1);
  c.tensor(k_cache, "k_cache", 3);
  c.tensor(v_cache, "v_cache", 3);
  c.dtype(qkv, "qkv", DType::F32);
  c.dtype(seq, "seq", DType::I32);
  c.dtype(pos, "pos", DType::I32);
  c.dtype(k_cache, "k_cache", DType::F32);
  c.dtype(v_cache, "v_cache", DType::F32);
  c.require(qkv.dim(1) % 3 == 0, "qkv must be [T, 3H]");
  c.require(seq.dim(0) == qkv.dim(0) && pos.dim(0) == qkv.dim(0), "seq and pos must be [T]");
  c.require(k_cache.shape == v_cache.shape, "k_cache and v_cache must have the same shape");
  c.require(k_cache.dim(2) == qkv.dim(1) / 3, "caches must be [S, cap, H]");
}

void attention_decode(DeviceKind /*dev*/, const TensorView& qkv, const TensorView& k_cache, const TensorView& v_cache,
                      const TensorView& seq, const TensorView& len, int n_heads, const TensorView& out) {
  const OpCheck c("attention_decode", {{"qkv", &qkv},
                                       {"k_cache", &k_cache},
                                       {"v_cache", &v_cache},
                                       {"seq", &seq},
                                       {"len", &len},
                                       {"out", &out}});
  c.tensor(qkv, "qkv", 2);
  c.tensor(k_cache, "k_cache", 3);
  c.tensor(v_cache, "v_cache", 3);
  c.tensor(seq, "seq", 1);
  c.tensor(len, "len", 1);
  c.tensor(out, "out", 2);
  c.dtype(qkv, "qkv", DType::F32);
  c.dtype(k_cache, "k_cache", DType::F32);
  c.dtype(v_cache, "v_cache", DType::F32);
  c.dtype(seq, "seq", DType::I32);
  c.dtype(len, "len", DType::I32);
  c.dtype(out, "out", DType::F32);
  c.require(qkv.dim(1) % 3 == 0, "qkv must be [B, 3H]");
  const std::int64_t h = qkv.dim(1) / 3;
  c.require(seq.dim(0) == qkv.dim(0) && len.dim(0) == qkv.dim(0), "seq and len must be [B]");
  c.require(out.dim(0) == qkv.dim(0) && out.dim(1) == h, "out must be [B, H]");
  c.require(k_cache.shape == v_cache.shape, "k_cache and v_cache must have the same shape");
  c.require(k_cache.dim(2) == h, "caches must be [S, cap, H]");
  c.require(n_heads > 0 && h % n_heads == 0, "n_heads must be > 0 and divide H");
}

void add_rmsnorm(DeviceKind dev, const TensorView& residual, const TensorView& delta, const TensorView& gamma, float eps,
                 const TensorView& out) {
  const OpCheck c("add_rmsnorm", {{"residual", &residual}, {"delta", &delta}, {"gamma", &gamma}, {"out", &out}});
  c.tensor(residual, "residual", 2);
  c.tensor(gamma, "gamma", 1);
  c.tensor(out, "out", 2);
  c.dtype(residual, "residual", DType::F32);
  c.dtype(out, "out", DType::F32);
  c.weight(dev, gamma, "gamma");
  c.require(out.shape == residual.shape, "out must have the shape of residual [T, H]");
  c.require(gamma.dim(0) == residual.dim(1), "gamma must be [H]");
  if (delta.present()) {
    c.dtype(delta, "delta", DType::F32);
    c.require(delta.shape == residual.shape, "delta must have the shape of residual [T, H]");
  }
  c.require(std::isfinite(eps) && eps >= 0.0f, "eps must be finite and >= 0");
}

void swiglu(DeviceKind /*dev*/, const TensorView& gate_up, const TensorView& out) {
  const OpCheck c("swiglu", {{"gate_up", &gate_up}, {"out", &out}});
  c.tensor(gate_up, "gate_up", 2);
  c.tensor(out, "out", 2);
  c.dtype(gate_up, "gate_up", DType::F32);
  c.dtype(out, "out", DType::F32);
  c.require(gate_up.dim(1) % 2 == 0, "gate_up must be [T, 2F]");
  c.require(out.dim(0) == gate_up.dim(0) && out.dim(1) == gate_up.dim(1) / 2, "out must be [T, F]");
}

void scale(DeviceKind /*dev*/, const TensorView& x) {
  const OpCheck c("scale", {{"x", &x}});
  c.require(x.shape.rank >= 1, "x must have rank >= 1");
  c.tensor(x, "x", x.shape.rank);
  c.dtype(x, "x", DType::F32);
}

void embedding_lookup(DeviceKind dev, const TensorView& ids, const TensorView& wte, const TensorView& out) {
  const OpCheck c("embedding_lookup", {{"ids", &ids}, {"wte", &wte}, {"out", &out}});
  c.tensor(ids, "ids", 1);
  c.tensor(wte, "wte", 2);
  c.tensor(out, "out", 2);
  c.dtype(ids, "ids", DType::I32);
  c.weight(dev, wte, "wte");
  c.dtype(out, "out", DType::F32);
  c.require(out.dim(0) == ids.dim(0), "ids and out must have T rows");
  c.require(wte.dim(1) == out.dim(1), "wte and out must have H columns");
}

void rope(DeviceKind /*dev*/, const TensorView& qkv, const TensorView& pos, const AttentionShape& a,
          const RopeParams& p) {
  const OpCheck c("rope", {{"qkv", &qkv}, {"pos", &pos}});
  c.tensor(qkv, "qkv", 2);
  c.tensor(pos, "pos", 1);
  c.dtype(qkv, "qkv", DType::F32);
  c.dtype(pos, "pos", DType::I32);
  c.require(a.n_heads > 0 && a.n_kv_heads > 0 && a.head_dim > 0, "n_heads, n_kv_heads and head_dim must be > 0");
  c.require(a.n_heads % a.n_kv_heads == 0, "n_heads must be a multiple of n_kv_heads");
  c.require(qkv.dim(1) == static_cast<std::int64_t>(a.n_heads + 2 * a.n_kv_heads) * a.head_dim,
            "qkv must be [T, (n_heads + 2 n_kv_heads) head_dim]");
  c.require(pos.dim(0) == qkv.dim(0), "pos must be [T]");
  const int r = p.rotary_dim == 0 ? a.head_dim : p.rotary_dim;
  c.require(r > 0 && r <= a.head_dim && r % 2 == 0, "rotary_dim must be even and in (0, head_dim]");
  c.require(std::isfinite(p.theta) && p.theta > 0.0f, "theta must be finite and > 0");
  c.require(p.scaling >= 0 && p.scaling <= 2, "scaling must be 0 (none), 1 (linear) or 2 (llama3)");
  if (p.scaling != 0) c.require(std::isfinite(p.factor) && p.factor > 0.0f, "factor must be finite and > 0");
  if (p.scaling == 2)
    c.require(p.original_context > 0 && p.low_freq_factor > 0.0f && p.high_freq_factor > p.low_freq_factor,
              "llama3 scaling needs original_context > 0 and high_freq_factor > low_freq_factor > 0");
}

void attention_gqa(const char* op, const TensorView& qkv, const AttentionShape& a) {
  const OpCheck c(op, {{"qkv", &qkv}});
  c.tensor(qkv, "qkv", 2);
  c.dtype(qkv, "qkv", DType::F32);
  c.require(a.n_heads > 0 && a.n_kv_heads > 0 && a.head_dim > 0, "n_heads, n_kv_heads and head_dim must be > 0");
  if (a.n_heads % a.n_kv_heads != 0)
    throw BadInput(std::string(op) + ": n_heads " + std::to_string(a.n_heads) + " is not a multiple of n_kv_heads " +
                   std::to_string(a.n_kv_heads));
  c.require(qkv.dim(1) == static_cast<std::int64_t>(a.n_heads + 2 * a.n_kv_heads) * a.head_dim,
            "qkv must be [T, (n_heads + 2 n_kv_heads) head_dim]");
  c.require(std::isfinite(a.scale), "scale must be finite");
}

void sample(DeviceKind /*dev*/, const TensorView& logits, const SamplingParams& p, const TensorView& seq,
            const TensorView& step, const TensorView& out_ids) {
  const OpCheck c("sample", {{"logits", &logits}, {"seq", &seq}, {"step", &step}, {"out_ids", &out_ids}});
  c.tensor(logits, "logits", 2);
  c.tensor(seq, "seq", 1);
  c.tensor(step, "step", 1);
  c.tensor(out_ids, "out_ids", 1);
  c.dtype(logits, "logits", DType::F32);
  c.dtype(seq, "seq", DType::I32);
  c.dtype(step, "step", DType::I32);
  c.dtype(out_ids, "out_ids", DType::I32);
  const std::int64_t b = logits.dim(0);
  c.require(seq.dim(0) == b && step.dim(0) == b && out_ids.dim(0) == b, "seq, step and out_ids must be [B]");
  c.require(logits.dim(1) >= 1 || b == 0, "logits must have V >= 1 columns");
  if (!p.greedy) {
    if (!(std::isfinite(p.temperature) && p.temperature > 0.0f))
      c.fail("temperature must be finite and > 0, got " + std::to_string(p.temperature));
    if (p.top_k < 0) c.fail("top_k must be >= 0, got " + std::to_string(p.top_k));
    if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) c.fail("top_p must be in (0, 1], got " + std::to_string(p.top_p));
  }
}

}  // namespace ferry::ops::check
