// CPU attention (f32): causal (or bidirectional, a.causal false) prefill over nested sequences, KV-cache append, and decode.
//
// Both attentions use the online softmax of Milakov & Gimelshein ("Online normalizer calculation for
// softmax", 2018) as in FlashAttention (Dao et al., 2022): one pass over the keys keeps a running
// maximum m, a running sum l of exp(s - m) and an accumulator rescaled by exp(m_old - m_new) whenever
// the maximum grows. The accumulator is the output row itself, so there is no [T, T] matrix and no
// allocation. The vectorised kernel of the CPU's ISA (Kernels::attend, ops/cpu_isa/attend_impl.h)
// takes blocks of up to kAttendRows query rows of one head; heads wider than kAttendMaxDim use the
// scalar attend_row below. Work is split over (row block, head) with OpenMP.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "ops/cpu.h"
#include "ops/cpu_isa/isa.h"
#include "ops/validate.h"

namespace ferry::ops::cpu {
namespace {

// Multiply-adds below which a call runs on the stream's thread alone (a parallel region costs
// microseconds, and idle OpenMP workers spin).
constexpr std::int64_t kParallelWork = std::int64_t{1} << 16;

// out[D] = softmax_j(scale * q·k_j) v_j over n keys; k_j = k + j*stride, v_j = v + j*stride. The
// scalar path, for heads wider than the ISA kernel takes.
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

// GPT-2 shape: n_kv_heads = n_heads, D = H / n_heads, scale 1/sqrt(D) in f32 (what these kernels
// have always used, so results are bit-identical through the GQA overloads).
AttentionShape mha_shape(std::int64_t hidden, int n_heads) {
  const int d = static_cast<int>(hidden / n_heads);
  return AttentionShape{n_heads, n_heads, d, 1.0f / std::sqrt(static_cast<float>(d))};
}

void require(bool cond, const char* op, const std::string& what) {
  if (!cond) throw InternalError(std::string(op) + ": " + what);
}

// Runs a.rows rows through the ISA kernel, or one by one through attend_row for wide heads.
void attend(const Kernels& kern, const AttendRows& a) {
  if (a.head_dim <= kAttendMaxDim) return kern.attend(a);
  for (int r = 0; r < a.rows; ++r) {
    const std::int64_t head = static_cast<std::int64_t>(r / a.kv_group) * a.head_dim;
    attend_row(a.q + r * a.q_stride, a.k + head, a.v + head, a.kv_stride,
               a.n_keys + static_cast<std::int64_t>(r) * a.step, a.head_dim, a.scale, a.out + r * a.out_stride);
  }
}

// How decode splits the query heads of a row over the threads: items of `groups` consecutive KV
// heads (their query heads side by side in one kernel call, reading the cache rows' contiguous
// KV slices), `parts` items per row. As wide as a kernel call takes (kAttendRows query heads),
// but with enough items for every thread when the batch is small, in a multiple of the threads.
struct DecodeSplit {
  int groups;
  int parts;
};

DecodeSplit decode_split(std::int64_t n_rows, int n_kv_heads, int group) {
  const int per_call = std::max(1, kAttendRows / group);  // KV heads per kernel call
  int parts = (n_kv_heads + per_call - 1) / per_call;
  const int threads = omp_get_max_threads();
  if (n_rows * parts < threads) parts = static_cast<int>((threads + n_rows - 1) / n_rows);
  else if (n_rows == 1) parts = (parts + threads - 1) / threads * threads;
  parts = std::min(parts, n_kv_heads);
  const int groups = (n_kv_heads + parts - 1) / parts;
  return {groups, (n_kv_heads + groups - 1) / groups};
}

}  // namespace

void attention_prefill(TensorView qkv, TensorView offsets, int n_heads, TensorView out) {
  check::attention_prefill(DeviceKind::CPU, qkv, offsets, n_heads, out);
  if (qkv.dim(1) == 0) return;  // H = 0: nothing to attend (the GQA shape needs head_dim > 0)
  attention_prefill(qkv, offsets, mha_shape(qkv.dim(1) / 3, n_heads), out);
}

void attention_prefill(TensorView qkv, TensorView offsets, const AttentionShape& a, TensorView out) {
  check::attention_gqa("attention_prefill", qkv, a);
  const std::int64_t q_width = static_cast<std::int64_t>(a.n_heads) * a.head_dim;
  const std::int64_t kv_width = static_cast<std::int64_t>(a.n_kv_heads) * a.head_dim;
  require(offsets.dtype == DType::I32 && offsets.shape.rank == 1 && offsets.dim(0) >= 1, "attention_prefill",
          "offsets must be i32 [B+1]");
  require(out.dtype == DType::F32 && out.shape.rank == 2 && out.dim(0) == qkv.dim(0) && out.dim(1) == q_width,
          "attention_prefill", "out must be f32 [T, n_heads*head_dim] = [" + std::to_string(qkv.dim(0)) + ", " +
                                   std::to_string(q_width) + "], got " + out.shape.str());
  const std::int64_t n_tokens = qkv.dim(0);
  const int n_heads = a.n_heads;
  const int head_dim = a.head_dim;
  const int group = a.n_heads / a.n_kv_heads;
  const std::int64_t n_seq = offsets.dim(0) - 1;
  const auto* off = offsets.as<const std::int32_t>();  // [B+1]
  if (off[0] != 0 || off[n_seq] != n_tokens)
    throw InternalError("attention_prefill: offsets must run from 0 to T = " + std::to_string(n_tokens) + ", got " +
                        std::to_string(off[0]) + " .. " + std::to_string(off[n_seq]));
  for (std::int64_t b = 0; b < n_seq; ++b)
    if (off[b + 1] < off[b]) throw InternalError("attention_prefill: offsets decrease at " + at("offsets", b + 1, off[b + 1]));
  if (n_tokens == 0) return;

  const auto* base = qkv.as<const float>();  // [T, W]
  auto* o = out.as<float>();                 // [T, n_heads*D]
  const std::int64_t stride = qkv.dim(1);
  const float scale = a.scale;
  const std::int64_t items = n_tokens * n_heads;
  std::int64_t pairs = 0;  // (query, key) pairs: the work, to keep tiny batches off the thread pool
  for (std::int64_t b = 0; b < n_seq; ++b) {
    const std::int64_t l = off[b + 1] - off[b];
    pairs += a.causal ? l * (l + 1) / 2 : l * l;
  }
  const Kernels& kern = cpu_kernels();
  // Item (t, h) is the block of rows [t, t + kAttendRows) of head h when t starts a block of its
  // sequence, and nothing otherwise. A block costs O(t - start): dynamic scheduling evens out the
  // causal triangle.
#pragma omp parallel for schedule(dynamic, 4) if (pairs * q_width > kParallelWork)
  for (std::int64_t item = 0; item < items; ++item) {
    const std::int64_t t = item / n_heads;
    const std::int64_t h = item % n_heads;
    // The sequence holding row t: the last b with offsets[b] <= t (skips empty sequences).
    const std::int64_t b = std::upper_bound(off, off + n_seq + 1, static_cast<std::int32_t>(t)) - off - 1;
    const std::int64_t start = off[b];
    if ((t - start) % kAttendRows != 0) continue;
    const std::int64_t kvh = h / group;
    AttendRows r;
    r.q = base + t * stride + h * head_dim;
    r.q_stride = stride;
    r.k = base + start * stride + q_width + kvh * head_dim;
    r.v = r.k + kv_width;
    r.kv_stride = stride;
    // Causal: row t + i sees keys start .. t + i. Bidirectional (encoders): every row the whole sequence.
    r.n_keys = a.causal ? t - start + 1 : off[b + 1] - start;
    r.step = a.causal ? 1 : 0;
    r.kv_group = kAttendRows;  // every row on KV head kvh
    r.rows = static_cast<int>(std::min<std::int64_t>(kAttendRows, off[b + 1] - t));
    r.head_dim = head_dim;
    r.scale = scale;
    r.out = o + t * q_width + h * head_dim;
    r.out_stride = q_width;
    attend(kern, r);
  }
}

void kv_append(TensorView qkv, TensorView seq, TensorView pos, TensorView k_cache, TensorView v_cache) {
  check::kv_append(DeviceKind::CPU, qkv, seq, pos, k_cache, v_cache);
  const int h = static_cast<int>(qkv.dim(1) / 3);
  if (h == 0) return;
  kv_append(qkv, seq, pos, k_cache, v_cache, AttentionShape{1, 1, h, 1.0f});
}

void kv_append(TensorView qkv, TensorView seq, TensorView pos, TensorView k_cache, TensorView v_cache,
               const AttentionShape& a) {
  check::attention_gqa("kv_append", qkv, a);
  const std::int64_t q_width = static_cast<std::int64_t>(a.n_heads) * a.head_dim;
  const std::int64_t kv_width = static_cast<std::int64_t>(a.n_kv_heads) * a.head_dim;
  require(seq.dtype == DType::I32 && pos.dtype == DType::I32 && seq.numel() == qkv.dim(0) &&
              pos.numel() == qkv.dim(0),
          "kv_append", "seq and pos must be i32 [T]");
  require(k_cache.dtype == DType::F32 && k_cache.shape.rank == 3 && k_cache.shape == v_cache.shape &&
              v_cache.dtype == DType::F32 && k_cache.dim(2) == kv_width,
          "kv_append", "caches must be f32 [S, cap, n_kv_heads*head_dim], got " + k_cache.shape.str());
  const std::int64_t n_tokens = qkv.dim(0);
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
  const auto* src = qkv.as<const float>();  // [T, W]
  auto* kc = k_cache.as<float>();           // [S, cap, kv_width]
  auto* vc = v_cache.as<float>();
  const std::int64_t stride = qkv.dim(1);
#pragma omp parallel for schedule(static) if (n_tokens * kv_width > 65536)
  for (std::int64_t t = 0; t < n_tokens; ++t) {
    const std::int64_t dst = (static_cast<std::int64_t>(sq[t]) * cap + ps[t]) * kv_width;
    const float* row = src + t * stride + q_width;
    std::copy(row, row + kv_width, kc + dst);
    std::copy(row + kv_width, row + 2 * kv_width, vc + dst);
  }
}

void attention_decode(TensorView qkv, TensorView k_cache, TensorView v_cache, TensorView seq, TensorView len,
                      int n_heads, TensorView out) {
  check::attention_decode(DeviceKind::CPU, qkv, k_cache, v_cache, seq, len, n_heads, out);
  if (qkv.dim(1) == 0) return;
  attention_decode(qkv, k_cache, v_cache, seq, len, mha_shape(qkv.dim(1) / 3, n_heads), out);
}

void attention_decode(TensorView qkv, TensorView k_cache, TensorView v_cache, TensorView seq, TensorView len,
                      const AttentionShape& a, TensorView out) {
  check::attention_gqa("attention_decode", qkv, a);
  const std::int64_t q_width = static_cast<std::int64_t>(a.n_heads) * a.head_dim;
  const std::int64_t kv_width = static_cast<std::int64_t>(a.n_kv_heads) * a.head_dim;
  require(seq.dtype == DType::I32 && len.dtype == DType::I32 && seq.numel() == qkv.dim(0) &&
              len.numel() == qkv.dim(0),
          "attention_decode", "seq and len must be i32 [B]");
  require(k_cache.dtype == DType::F32 && k_cache.shape.rank == 3 && k_cache.shape == v_cache.shape &&
              v_cache.dtype == DType::F32 && k_cache.dim(2) == kv_width,
          "attention_decode", "caches must be f32 [S, cap, n_kv_heads*head_dim], got " + k_cache.shape.str());
  require(out.dtype == DType::F32 && out.shape.rank == 2 && out.dim(0) == qkv.dim(0) && out.dim(1) == q_width,
          "attention_decode", "out must be f32 [B, n_heads*head_dim], got " + out.shape.str());
  const std::int64_t n_rows = qkv.dim(0);
  const int head_dim = a.head_dim;
  const int group = a.n_heads / a.n_kv_heads;
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
  if (n_rows == 0) return;
  const auto* q_base = qkv.as<const float>();  // [B, W]
  const auto* kc = k_cache.as<const float>();  // [S, cap, kv_width]
  const auto* vc = v_cache.as<const float>();
  auto* o = out.as<float>();                   // [B, q_width]
  const std::int64_t stride = qkv.dim(1);
  const float scale = a.scale;
  const Kernels& kern = cpu_kernels();
  const DecodeSplit split = decode_split(n_rows, a.n_kv_heads, group);
  const std::int64_t items = n_rows * split.parts;
  std::int64_t keys = 0;  // the work, to keep tiny batches off the thread pool
  for (std::int64_t b = 0; b < n_rows; ++b) keys += ln[b];
#pragma omp parallel for schedule(dynamic, 1) if (keys * q_width > kParallelWork / 16)
  for (std::int64_t item = 0; item < items; ++item) {
    const std::int64_t b = item / split.parts;
    const int g0 = static_cast<int>(item % split.parts) * split.groups;  // first KV head of the item
    const int g1 = std::min(a.n_kv_heads, g0 + split.groups);
    const std::int64_t slot = static_cast<std::int64_t>(sq[b]) * cap * kv_width;
    // Calls of up to kAttendRows query heads: whole KV groups, or a part of one wider group.
    for (int h0 = g0 * group; h0 < g1 * group; h0 += std::min(kAttendRows, group * (g1 - g0))) {
      const int rows = std::min({kAttendRows, g1 * group - h0, group * (g1 - g0)});
      AttendRows r;
      r.q = q_base + b * stride + static_cast<std::int64_t>(h0) * head_dim;
      r.q_stride = head_dim;
      r.k = kc + slot + static_cast<std::int64_t>(h0 / group) * head_dim;
      r.v = vc + slot + static_cast<std::int64_t>(h0 / group) * head_dim;
      r.kv_stride = kv_width;
      r.n_keys = ln[b];
      r.step = 0;
      r.kv_group = group;
      r.rows = rows;
      r.head_dim = head_dim;
      r.scale = scale;
      r.out = o + b * q_width + static_cast<std::int64_t>(h0) * head_dim;
      r.out_stride = head_dim;
      attend(kern, r);
    }
  }
}

}  // namespace ferry::ops::cpu
