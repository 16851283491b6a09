// CPU attention over nested sequences, unfused (f32): for each sequence and head, the score
// matrix S = Q K^T * scale is materialised by cblas_sgemm (the whole L x L square, as an unfused
// path computes it), softmaxed row by row over the visible keys (j <= i when causal; j < key_len[b]
// for a padded batch's mask) with zeros written over the hidden ones, and multiplied by V with a
// second sgemm. Three passes over an L x L matrix: the comparison path of `ferry bench fusion`
// for the flash-style attention_prefill, and the padded baseline of `ferry bench encoder`. Each
// thread takes whole heads, so the baseline is as well threaded as the flash path it is set against.
#include <cblas.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "ops/cpu.h"
#include "ops/cpu_isa/isa.h"
#include "ops/cpu_isa/kernels.h"
#include "ops/validate.h"

namespace ferry::ops::cpu {
namespace {

blasint blas_int(std::int64_t v) {
  if (v > static_cast<std::int64_t>(INT_MAX))
    throw InternalError("attention_prefill_unfused: dimension " + std::to_string(v) + " exceeds the BLAS int range");
  return static_cast<blasint>(v);
}

// p[0..vis) = softmax(p[0..vis)); p[vis..n) = 0 (a row with no visible key is all zeros). The
// exponentials are the vectorised ones of the CPU's ISA kernels, as in the flash path.
void softmax_row(const Kernels& kern, float* p, std::int64_t vis, std::int64_t n) {
  float m = -std::numeric_limits<float>::infinity();
  for (std::int64_t j = 0; j < vis; ++j) m = std::max(m, p[j]);
  const float sum = vis > 0 ? kern.exp_shifted(p, m, vis, p) : 0.0f;
  const float inv = vis > 0 ? 1.0f / sum : 0.0f;
  for (std::int64_t j = 0; j < vis; ++j) p[j] *= inv;
  for (std::int64_t j = std::max<std::int64_t>(vis, 0); j < n; ++j) p[j] = 0.0f;
}

// The mask of one sequence: causal rows see keys j <= i; key_len (when not null) hides keys
// j >= key_len (the pads of a padded batch).
struct UnfusedMask {
  bool causal;
  const std::int32_t* key_len;  // [B] or null
};

void unfused(TensorView qkv, TensorView offsets, int n_heads, float scale, UnfusedMask mask, TensorView scores,
             TensorView out) {
  const std::int64_t n_tokens = qkv.dim(0);
  const std::int64_t hidden = qkv.dim(1) / 3;
  const std::int64_t head_dim = hidden / n_heads;
  const std::int64_t n_seq = offsets.dim(0) - 1;
  const std::int64_t max_len = scores.dim(1);
  const auto* off = offsets.as<const std::int32_t>();  // [B+1]
  if (off[0] != 0 || off[n_seq] != n_tokens)
    throw InternalError("attention_prefill_unfused: offsets must run from 0 to T = " + std::to_string(n_tokens) +
                        ", got " + std::to_string(off[0]) + " .. " + std::to_string(off[n_seq]));
  for (std::int64_t b = 0; b < n_seq; ++b) {
    if (off[b + 1] < off[b])
      throw InternalError("attention_prefill_unfused: offsets decrease at offsets[" + std::to_string(b + 1) + "]");
    if (off[b + 1] - off[b] > max_len)
      throw InternalError("attention_prefill_unfused: sequence " + std::to_string(b) + " has " +
                          std::to_string(off[b + 1] - off[b]) + " tokens, more than the scores workspace's max_len " +
                          std::to_string(max_len));
  }
  if (n_tokens == 0 || head_dim == 0) return;

  const auto* base = qkv.as<const float>();  // [T, 3H]
  auto* s = scores.as<float>();              // [n_heads, max_len, max_len]
  auto* o = out.as<float>();                 // [T, H]
  const blasint ld_qkv = blas_int(3 * hidden);
  const blasint ld_s = blas_int(max_len);
  const blasint d = blas_int(head_dim);
  const Kernels& kern = cpu_kernels();
  for (std::int64_t b = 0; b < n_seq; ++b) {
    const std::int64_t start = off[b];
    const std::int64_t len = off[b + 1] - start;
    if (len == 0) continue;
    const blasint l = blas_int(len);
    const float* rows = base + start * 3 * hidden;
    const std::int64_t keys = mask.key_len ? std::clamp<std::int64_t>(mask.key_len[b], 0, len) : len;
    // One head per thread, each with single-threaded BLAS calls (OpenBLAS's OpenMP build runs one
    // thread inside a parallel region): a head's matrices are too small to split well, and twelve
    // threaded calls per head and layer would each pay OpenBLAS's thread wake-up.
#pragma omp parallel for schedule(static) if (n_heads > 1 && len * len * head_dim > 16384)
    for (int h = 0; h < n_heads; ++h) {
      float* sh = s + h * max_len * max_len;
      // Pass 1: S_h[L, L] = scale * Q_h[L, D] K_h[L, D]^T.
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, l, l, d, scale, rows + h * head_dim, ld_qkv,
                  rows + hidden + h * head_dim, ld_qkv, 0.0f, sh, ld_s);
      // Pass 2: masked softmax of every row, in place.
      for (std::int64_t i = 0; i < len; ++i)
        softmax_row(kern, sh + i * max_len, mask.causal ? std::min(i + 1, keys) : keys, len);
      // Pass 3: O_h[L, D] = P_h[L, L] V_h[L, D], written into out's columns of head h.
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, l, d, l, 1.0f, sh, ld_s, rows + 2 * hidden + h * head_dim,
                  ld_qkv, 0.0f, o + start * hidden + h * head_dim, blas_int(hidden));
    }
  }
}

}  // namespace

void attention_prefill_unfused(TensorView qkv, TensorView offsets, int n_heads, TensorView scores, TensorView out) {
  check::attention_prefill_unfused(DeviceKind::CPU, qkv, offsets, n_heads, scores, out);
  const std::int64_t hidden = qkv.dim(1) / 3;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hidden / n_heads));
  unfused(qkv, offsets, n_heads, scale, UnfusedMask{true, nullptr}, scores, out);
}

void attention_prefill_unfused(TensorView qkv, TensorView offsets, TensorView key_len, const AttentionShape& a,
                               TensorView scores, TensorView out) {
  check::attention_prefill_unfused(DeviceKind::CPU, qkv, offsets, key_len, a, scores, out);
  unfused(qkv, offsets, a.n_heads, a.scale,
          UnfusedMask{a.causal, key_len.present() ? key_len.as<const std::int32_t>() : nullptr}, scores, out);
}

}  // namespace ferry::ops::cpu
