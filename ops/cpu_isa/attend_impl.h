// The attention kernel of every ISA file (Kernels::attend; kernels.h has its contract), written
// once over a vector type V that each ISA file supplies:
//   V::vec, V::L (lanes), zero(), set1(x), load(p), load_n(p, n) (lanes [0, n) of p, the rest 0,
//   n < L), store(p, v), fmadd(a, b, c) = a * b + c, add(a, b), mul(a, b), hsum(v).
// Include it only from an ops/cpu_isa/kernels_<isa>.cpp file, after vec_math.h: everything is in an
// anonymous namespace, so each ISA file compiles its own copy (kernels.h says why).
//
// The online softmax of Milakov & Gimelshein ("Online normalizer calculation for softmax", 2018),
// blocked as in FlashAttention (Dao et al., 2022): keys go by in blocks of kKeyBlock; for each row
// the block's scores (dot products along the head dimension, L lanes at a time), their maximum, one
// vectorised exp over the block, and the accumulator rescaled once per block, not once per key.
// The rows of a call share each key block while it is in L1: one KV head in prefill, the KV heads
// of several query heads side by side in decode.
#pragma once
#include <algorithm>
#include <cstdint>
#include <limits>

#include "ops/cpu_isa/kernels.h"
#include "ops/cpu_isa/vec_math.h"

namespace ferry::ops::cpu {
namespace {

constexpr int kKeyBlock = 32;

// q · k over d lanes; q is zero-padded to a multiple of L, k is read only to d.
template <class V>
float attend_dot(const float* q, const float* k, int d) {
  constexpr int L = V::L;
  typename V::vec a = V::zero(), b = V::zero();
  int i = 0;
  for (; i + 2 * L <= d; i += 2 * L) {
    a = V::fmadd(V::load(q + i), V::load(k + i), a);
    b = V::fmadd(V::load(q + i + L), V::load(k + i + L), b);
  }
  for (; i + L <= d; i += L) a = V::fmadd(V::load(q + i), V::load(k + i), a);
  if (i < d) b = V::fmadd(V::load(q + i), V::load_n(k + i, d - i), b);
  return V::hsum(V::add(a, b));
}

// acc[0:d) = c * acc + sum_j p[j] v_j, v_j = v + j * stride, j < n; acc is padded to a multiple of
// L (lanes past d stay 0: the loads there are zero-filled). Four vectors of acc at a time stay in
// registers while the keys go by.
template <class V>
void attend_pv(float* acc, float c, const float* p, const float* v, std::int64_t stride, std::int64_t n, int d) {
  constexpr int L = V::L;
  const typename V::vec cv = V::set1(c);
  for (int i0 = 0; i0 < d; i0 += 4 * L) {
    const int lanes = std::min(4 * L, d - i0);
    const int nvec = (lanes + L - 1) / L;
    typename V::vec a[4];
    for (int u = 0; u < 4; ++u) a[u] = u < nvec ? V::mul(V::load(acc + i0 + u * L), cv) : V::zero();
    if (lanes == 4 * L) {
      for (std::int64_t j = 0; j < n; ++j) {
        const float* vj = v + j * stride + i0;
        const typename V::vec pj = V::set1(p[j]);
        for (int u = 0; u < 4; ++u) a[u] = V::fmadd(pj, V::load(vj + u * L), a[u]);
      }
    } else {
      for (std::int64_t j = 0; j < n; ++j) {
        const float* vj = v + j * stride + i0;
        const typename V::vec pj = V::set1(p[j]);
        for (int u = 0; u < nvec; ++u) {
          const int m = lanes - u * L;
          a[u] = V::fmadd(pj, m >= L ? V::load(vj + u * L) : V::load_n(vj + u * L, m), a[u]);
        }
      }
    }
    for (int u = 0; u < nvec; ++u) V::store(acc + i0 + u * L, a[u]);
  }
}

// The running state of one query row: its maximum score, the sum of exp(score - max), and the
// unnormalised output (padded to a multiple of the widest L).
struct RowState {
  float m;
  float l;
  alignas(64) float acc[kAttendMaxDim];
  alignas(64) float q[kAttendMaxDim];  // the query row, zero-padded
};

// Asks for the key and value rows of the block after j0 (every cache line of their d floats): in
// decode the cache rows are far apart (a row of all heads between them), so the prefetchers, which
// stop at page boundaries, do not fetch them ahead, and each block would wait on memory.
inline void prefetch_block(const AttendRows& a, std::int64_t j0, std::int64_t n_max) {
  const std::int64_t n = std::min<std::int64_t>(kKeyBlock, n_max - j0);
  const int width = ((a.rows - 1) / a.kv_group + 1) * a.head_dim;  // the KV heads of the rows, side by side
  for (std::int64_t j = 0; j < n; ++j) {
    const float* k = a.k + (j0 + j) * a.kv_stride;
    const float* v = a.v + (j0 + j) * a.kv_stride;
    for (int i = 0; i < width; i += 16) {
      __builtin_prefetch(k + i);
      __builtin_prefetch(v + i);
    }
  }
}

template <class V>
void attend_t(const AttendRows& a) {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  const int d = a.head_dim;
  const int padded = (d + V::L - 1) / V::L * V::L;
  RowState st[kAttendRows];
  for (int r = 0; r < a.rows; ++r) {
    st[r].m = kNegInf;
    st[r].l = 0.0f;
    for (int i = 0; i < padded; ++i) {
      st[r].acc[i] = 0.0f;
      st[r].q[i] = i < d ? a.q[r * a.q_stride + i] * a.scale : 0.0f;  // the scale folded into q
    }
  }
  const std::int64_t n_max = a.n_keys + static_cast<std::int64_t>(a.rows - 1) * a.step;
  alignas(64) float s[kKeyBlock];
  alignas(64) float p[kKeyBlock];
  for (std::int64_t j0 = 0; j0 < n_max; j0 += kKeyBlock) {
    if (j0 + kKeyBlock < n_max) prefetch_block(a, j0 + kKeyBlock, n_max);
    for (int r = 0; r < a.rows; ++r) {
      const std::int64_t n = std::min<std::int64_t>(kKeyBlock, a.n_keys + static_cast<std::int64_t>(r) * a.step - j0);
      if (n <= 0) continue;
      const std::int64_t head = static_cast<std::int64_t>(r / a.kv_group) * d;
      const float* kb = a.k + j0 * a.kv_stride + head;
      RowState& rs = st[r];
      float bm = kNegInf;
      for (std::int64_t j = 0; j < n; ++j) {
        s[j] = attend_dot<V>(rs.q, kb + j * a.kv_stride, d);
        bm = std::max(bm, s[j]);
      }
      const float m = std::max(rs.m, bm);
      const float c = exp_nonpos(rs.m - m);  // 0 on the first block (m was -inf)
      rs.l = rs.l * c + exp_shifted(s, m, n, p);
      rs.m = m;
      attend_pv<V>(rs.acc, c, p, a.v + j0 * a.kv_stride + head, a.kv_stride, n, d);
    }
  }
  for (int r = 0; r < a.rows; ++r) {
    const float inv = 1.0f / st[r].l;
    float* o = a.out + r * a.out_stride;
    for (int i = 0; i < d; ++i) o[i] = st[r].acc[i] * inv;
  }
}

}  // namespace
}  // namespace ferry::ops::cpu
