// CPU attention (f32): causal prefill over nested sequences, KV-cache append, and decode.
//
// Both attentions use the online softmax of Milakov & Gimelshein ("Online normalizer calculation for
// softmax", 2018) as in FlashAttention (Dao et al., 2022): one pass over the keys keeps a running
// maximum m, a running sum l of exp(s - m) and an accumulator rescaled by exp(m_old - m_new) whenever
// the maximum grows. The accumulator is the output row itself, so there is no [T, T] matrix and no
// allocation. Work is split over (query row, head) with OpenMP.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "ops/cpu.h"
#include "ops/validate.h"

namespace ferry::ops::cpu {
namespace {

// Multiply-adds below which a call runs on the stream's thread alone (a parallel region costs
// microseconds, and idle OpenMP workers spin).
constexpr std::int64_t kParallelWork = std::int64_t{1} << 16;

// out[D] = softmax_j(scale * q·k_j) v_j over n keys; k_j = k + j*stride, v_j = v + j*stride.
void attend_row(const float* q, const float* k, const float* v, std::int64_t stride, std::int64_t n, int head_dim,
                float scale, float* out) {
  float m = -std::numeric_limits<float>::infinity();
  float l = 0.0f;
  for (int d = 0; d < head_dim; ++d) out[d] = 0.0f;
  for (std::int64_t j = 0; j < n; ++j) {
    const float* kj = k + j * stride;
    const float* vj = v + j * stride;
    float s = 0.0f;
    for (int d = 0; d < head_dim; ++d) s += q[d] * kj[d];
    s *= scale;
    if (s > m) {
      const float c = std::exp(m - s);  // 0 on the first key (m = -inf)
      l *= c;
      for (int d = 0; d < head_dim; ++d) out[d] *= c;
      m = s;
    }
    const float p = std::exp(s - m);
    l += p;
    for (int d = 0; d < head_dim; ++d) out[d] += p * vj[d];
  }
  const float inv = 1.0f / l;
  for (int d = 0; d < head_dim; ++d) out[d] *= inv;
}

std::string at(const char* name, std::int64_t i, std::int64_t v) {
  return std::string(name) + "[" + std::to_string(i) + "] = " + std::to_string(v);
}

}  // namespace

void attention_prefill(TensorView qkv, TensorView offsets, int n_heads, TensorView out) {
  check::attention_prefill(DeviceKind::CPU, qkv, offsets, n_heads, out);
  const std::int64_t n_tokens = qkv.dim(0);
  const std::int64_t hidden = qkv.dim(1) / 3;
  const int head_dim = static_cast<int>(hidden / n_heads);
  const std::int64_t n_seq = offsets.dim(0) - 1;
  const auto* off = offsets.as<const std::int32_t>();  // [B+1]
  if (off[0] != 0 || off[n_seq] != n_tokens)
    throw InternalError("attention_prefill: offsets must run from 0 to T = " + std::to_string(n_tokens) + ", got " +
                        std::to_string(off[0]) + " .. " + std::to_string(off[n_seq]));
  for (std::int64_t b = 0; b < n_seq; ++b)
    if (off[b + 1] < off[b]) throw InternalError("attention_prefill: offsets decrease at " + at("offsets", b + 1, off[b + 1]));
  if (n_tokens == 0 || head_dim == 0) return;

  const auto* base = qkv.as<const float>();  // [T, 3H]
  auto* o = out.as<float>();                 // [T, H]
  const std::int64_t stride = 3 * hidden;
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  const std::int64_t items = n_tokens * n_heads;
  std::int64_t pairs = 0;  // (query, key) pairs: the work, to keep tiny batches off the thread pool
  for (std::int64_t b = 0; b < n_seq; ++b) {
    const std::int64_t l = off[b + 1] - off[b];
    pairs += l * (l + 1) / 2;
  }
  // Row t costs O(t - start): dynamic scheduling evens out the causal triangle.
#pragma omp parallel for schedule(dynamic, 8) if (pairs * hidden > kParallelWork)
  for (std::int64_t item = 0; item < items; ++item) {
    const std::int64_t t = item / n_heads;
    const std::int64_t h = item % n_heads;
    // The sequence holding row t: the last b with offsets[b] <= t (skips empty sequences).
    const std::int64_t b = std::upper_bound(off, off + n_seq + 1, static_cast<std::int32_t>(t)) - off - 1;
    const std::int64_t start = off[b];
    const float* q = base + t * stride + h * head_dim;
    const float* k = base + start * stride + hidden + h * head_dim;
    const float* v = base + start * stride + 2 * hidden + h * head_dim;
    attend_row(q, k, v, stride, t - start + 1, head_dim, scale, o + t * hidden + h * head_dim);
  }
}

void kv_append(TensorView qkv, TensorView seq, TensorView pos, TensorView k_cache, TensorView v_cache) {
  check::kv_append(DeviceKind::CPU, qkv, seq, pos, k_cache, v_cache);
  const std::int64_t n_tokens = qkv.dim(0);
  const std::int64_t hidden = qkv.dim(1) / 3;
  const std::int64_t n_slots = k_cache.dim(0);
  const std::int64_t cap = k_cache.dim(1);
  const auto* sq = seq.as<const std::int32_t>();  // [T]
  const auto* ps = pos.as<const std::int32_t>();  // [T]
  for (std::int64_t t = 0; t < n_tokens; ++t) {
    if (sq[t] < 0 || sq[t] >= n_slots)
      throw InternalError("kv_append: " + at("seq", t, sq[t]) + " outside the " + std::to_string(n_slots) + " cache slots");
    if (ps[t] < 0 || ps[t] >= cap)
      throw InternalError("kv_append: " + at("pos", t, ps[t]) + " outside the cache capacity " + std::to_string(cap));
  }
  const auto* src = qkv.as<const float>();  // [T, 3H]
  auto* kc = k_cache.as<float>();           // [S, cap, H]
  auto* vc = v_cache.as<float>();           // [S, cap, H]
#pragma omp parallel for schedule(static) if (n_tokens * hidden > 65536)
  for (std::int64_t t = 0; t < n_tokens; ++t) {
    const std::int64_t dst = (static_cast<std::int64_t>(sq[t]) * cap + ps[t]) * hidden;
    const float* row = src + t * 3 * hidden;
    std::copy(row + hidden, row + 2 * hidden, kc + dst);
    std::copy(row + 2 * hidden, row + 3 * hidden, vc + dst);
  }
}

void attention_decode(TensorView qkv, TensorView k_cache, TensorView v_cache, TensorView seq, TensorView len,
                      int n_heads, TensorView out) {
  check::attention_decode(DeviceKind::CPU, qkv, k_cache, v_cache, seq, len, n_heads, out);
  const std::int64_t n_rows = qkv.dim(0);
  const std::int64_t hidden = qkv.dim(1) / 3;
  const int head_dim = static_cast<int>(hidden / n_heads);
  const std::int64_t n_slots = k_cache.dim(0);
  const std::int64_t cap = k_cache.dim(1);
  const auto* sq = seq.as<const std::int32_t>();  // [B]
  const auto* ln = len.as<const std::int32_t>();  // [B]
  for (std::int64_t b = 0; b < n_rows; ++b) {
    if (sq[b] < 0 || sq[b] >= n_slots)
      throw InternalError("attention_decode: " + at("seq", b, sq[b]) + " outside the " + std::to_string(n_slots) +
                          " cache slots");
    if (ln[b] < 1 || ln[b] > cap)
      throw InternalError("attention_decode: " + at("len", b, ln[b]) + " outside [1, " + std::to_string(cap) + "]");
  }
  if (n_rows == 0 || head_dim == 0) return;
  const auto* q_base = qkv.as<const float>();  // [B, 3H]
  const auto* kc = k_cache.as<const float>();  // [S, cap, H]
  const auto* vc = v_cache.as<const float>();  // [S, cap, H]
  auto* o = out.as<float>();                   // [B, H]
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  const std::int64_t items = n_rows * n_heads;
  std::int64_t keys = 0;  // the work, to keep tiny batches off the thread pool
  for (std::int64_t b = 0; b < n_rows; ++b) keys += ln[b];
#pragma omp parallel for schedule(dynamic, 4) if (keys * hidden > kParallelWork / 16)
  for (std::int64_t item = 0; item < items; ++item) {
    const std::int64_t b = item / n_heads;
    const std::int64_t h = item % n_heads;
    const std::int64_t slot = static_cast<std::int64_t>(sq[b]) * cap * hidden + h * head_dim;
    attend_row(q_base + b * 3 * hidden + h * head_dim, kc + slot, vc + slot, hidden, ln[b], head_dim, scale,
               o + b * hidden + h * head_dim);
  }
}

}  // namespace ferry::ops::cpu
