// CUDA attention: causal (or, for encoders, bidirectional) prefill over nested sequences, KV-cache append, and decode attention.
//
// Prefill follows FlashAttention (Dao et al., "FlashAttention: Fast and Memory-Efficient Exact
// Attention with IO-Awareness", NeurIPS 2022): queries are processed in tiles, keys and values stream
// through shared memory in tiles, and each query row keeps a running maximum m, a running sum l
// and an unnormalized output o (the online softmax of Milakov & Gimelshein 2018), so the [T, T]
// score matrix never exists. Plain fp32 CUDA cores, no tensor cores: correctness first.
//
// The grid runs over (query tile of the packed token axis, head). A tile may straddle a sequence
// boundary; every row finds its sequence start by binary search in offsets[B+1] and masks keys
// outside [its sequence start, itself], and the block loads the keys from the first row's sequence
// start up to its last row.
//
// Grouped-query attention (LLaMA, Mistral, Granite): qkv rows are [q (n_heads D) | k (n_kv_heads D) |
// v (n_kv_heads D)], the caches hold n_kv_heads D columns, and query head h reads KV head
// h / (n_heads / n_kv_heads). All three kernels take that geometry (QkvLayout); the GPT-2 launchers
// are the case n_kv_heads = n_heads, D = H / n_heads, scale 1/sqrt(D) through the same kernels, so
// their results are bit-identical to the GQA launchers'. Blocks run per query head; the query heads
// of one group each read their KV head (no sharing of K/V tiles across a group yet).
#include <cmath>
#include <cstdint>
#include <string>

#include "ops/cuda.h"
#include "ops/cuda_common.cuh"

namespace ferry::ops::cuda {
namespace {

constexpr int kMaxHeadDim = 128;

// Column geometry of a qkv row, the caches and out (see the file comment).
struct QkvLayout {
  std::int64_t ld;  // qkv row stride: (n_heads + 2 n_kv_heads) D
  int q_width;      // n_heads D: k starts at this column; out's row stride
  int kv_width;     // n_kv_heads D: v starts at q_width + kv_width; the caches' row stride
  int group;        // n_heads / n_kv_heads
  int D;            // head dim, 1..kMaxHeadDim
  float scale;      // softmax scale
  bool causal = true;  // prefill: keys up to the query row; false: the whole sequence (encoders)
};

// ---- prefill -------------------------------------------------------------------------------------

constexpr int kBr = 32;                  // query rows per block
constexpr int kBc = 32;                  // keys per tile (one per lane)
constexpr int kPrefillWarps = 4;
constexpr int kRowsPerWarp = kBr / kPrefillWarps;

// The sequence that holds `row`: the largest b with offsets[b] <= row (offsets[0] = 0,
// offsets[B] = T > row).
__device__ __forceinline__ int sequence_of(const std::int32_t* __restrict__ offsets, int B, int row) {
  int lo = 0;
  int hi = B;
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (offsets[mid] <= row)
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

// Start row, and end row (exclusive), of the sequence that holds `row`.
__device__ __forceinline__ int sequence_start(const std::int32_t* __restrict__ offsets, int B, int row) {
  return offsets[sequence_of(offsets, B, row)];
}
__device__ __forceinline__ int sequence_end(const std::int32_t* __restrict__ offsets, int B, int row) {
  return offsets[sequence_of(offsets, B, row) + 1];
}

// qkv[T, L.ld] f32, offsets[B+1] i32, out[T, L.q_width] f32; grid (query tiles, n_heads);
// D = L.D <= 32 * NC. Query head h = blockIdx.y reads KV head h / L.group.
// Dynamic shared memory: Q[kBr][D] (pre-scaled), K[kBc][D+1] (padded: lane j reads row j without
// bank conflicts), V[kBc][D].
template <int NC>
__global__ void __launch_bounds__(kPrefillWarps * kWarp)
    attention_prefill_kernel(const float* __restrict__ qkv, const std::int32_t* __restrict__ offsets, int B, int T,
                             QkvLayout L, float* __restrict__ out) {
  extern __shared__ float smem[];
  const int D = L.D;
  float* Qs = smem;
  float* Ks = Qs + kBr * D;
  float* Vs = Ks + kBc * (D + 1);

  const int lane = threadIdx.x % kWarp;
  const int warp = threadIdx.x / kWarp;
  const int h = blockIdx.y;
  const int q0 = blockIdx.x * kBr;
  const std::int64_t ld = L.ld;
  const float* q_cols = qkv + h * D;                                // query head h
  const float* k_cols = qkv + L.q_width + (h / L.group) * D;        // its KV head
  const float* v_cols = k_cols + L.kv_width;

  for (int i = threadIdx.x; i < kBr * D; i += blockDim.x) {
    const int r = i / D;
    const int d = i - r * D;
    const int row = q0 + r;
    Qs[i] = row < T ? q_cols[row * ld + d] * L.scale : 0.0f;
  }

  int row_start[kRowsPerWarp];
  int row_last[kRowsPerWarp];  // the last key row `row` sees: itself (causal) or its sequence's end
  float m[kRowsPerWarp];
  float l[kRowsPerWarp];
  float o[kRowsPerWarp][NC];
#pragma unroll
  for (int rr = 0; rr < kRowsPerWarp; ++rr) {
    const int row = q0 + warp * kRowsPerWarp + rr;
    const int seq = row < T ? sequence_of(offsets, B, row) : 0;  // one search for both bounds
    row_start[rr] = row < T ? offsets[seq] : 0;
    row_last[rr] = row >= T ? 0 : L.causal ? row : offsets[seq + 1] - 1;
    m[rr] = -INFINITY;
    l[rr] = 0.0f;
#pragma unroll
    for (int c = 0; c < NC; ++c) o[rr][c] = 0.0f;
  }

  // Keys this block needs: from the first row's sequence start to the last row (causal) or to the
  // end of the last row's sequence.
  const int k_begin = sequence_start(offsets, B, q0);
  const int last_row = min(q0 + kBr, T) - 1;
  const int k_end = L.causal || last_row < 0 ? last_row : sequence_end(offsets, B, last_row) - 1;

  for (int k0 = k_begin; k0 <= k_end; k0 += kBc) {
    __syncthreads();  // the previous tile is consumed (and Q is stored before the first one)
    for (int i = threadIdx.x; i < kBc * D; i += blockDim.x) {
      const int j = i / D;
      const int d = i - j * D;
      const int key = k0 + j;
      float kv = 0.0f;
      float vv = 0.0f;
      if (key <= k_end) {
        kv = k_cols[key * ld + d];
        vv = v_cols[key * ld + d];
      }
      Ks[j * (D + 1) + d] = kv;
      Vs[j * D + d] = vv;
    }
    __syncthreads();

#pragma unroll
    for (int rr = 0; rr < kRowsPerWarp; ++rr) {
      const int r = warp * kRowsPerWarp + rr;
      const int row = q0 + r;
      const int rs = row_start[rr];
      const int re = row_last[rr];
      // Warp-uniform: skip rows past T and tiles with no key in [rs, re]. Otherwise at least one
      // key of the tile is visible, so the tile maximum below is finite.
      if (row >= T || k0 > re || k0 + kBc - 1 < rs) continue;
      const int key = k0 + lane;
      float score = -INFINITY;
      if (key >= rs && key <= re) {
        const float* q = Qs + r * D;
        const float* k = Ks + lane * (D + 1);
        float acc = 0.0f;
        for (int d = 0; d < D; ++d) acc = fmaf(q[d], k[d], acc);
        score = acc;
      }
      const float m_new = fmaxf(m[rr], warp_max(score));
      const float alpha = expf(m[rr] - m_new);  // 0 on the first visible tile (m = -inf)
      const float p = expf(score - m_new);       // 0 for masked keys
      l[rr] = l[rr] * alpha + warp_sum(p);
      m[rr] = m_new;
#pragma unroll
      for (int c = 0; c < NC; ++c) o[rr][c] *= alpha;
      const int j_lo = max(rs, k0) - k0;
      const int j_hi = min(re, k0 + kBc - 1) - k0;
      for (int j = j_lo; j <= j_hi; ++j) {
        const float pj = __shfl_sync(0xffffffffu, p, j);
        const float* v = Vs + j * D;
#pragma unroll
        for (int c = 0; c < NC; ++c) {
          const int d = lane + c * kWarp;
          if (d < D) o[rr][c] = fmaf(pj, v[d], o[rr][c]);
        }
      }
    }
  }

#pragma unroll
  for (int rr = 0; rr < kRowsPerWarp; ++rr) {
    const int row = q0 + warp * kRowsPerWarp + rr;
    if (row >= T) continue;
    const float inv = 1.0f / l[rr];
#pragma unroll
    for (int c = 0; c < NC; ++c) {
      const int d = lane + c * kWarp;
      if (d < D) out[row * static_cast<std::int64_t>(L.q_width) + h * D + d] = o[rr][c] * inv;
    }
  }
}

template <int NC>
void launch_prefill(const float* qkv, const std::int32_t* offsets, int B, int T, const QkvLayout& L, int n_heads,
                    float* out, cudaStream_t s) {
  const std::size_t d = static_cast<std::size_t>(L.D);
  const std::size_t smem = sizeof(float) * (kBr * d + kBc * (d + 1) + kBc * d);  // Q, K (padded), V
  // Above 48 KiB of dynamic shared memory a kernel must opt in (D = 128 needs about 48.1 KiB).
  FERRY_CUDA(cudaFuncSetAttribute(attention_prefill_kernel<NC>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                  static_cast<int>(smem)));
  const dim3 grid(static_cast<unsigned>((T + kBr - 1) / kBr), static_cast<unsigned>(n_heads));
  attention_prefill_kernel<NC><<<grid, kPrefillWarps * kWarp, smem, s>>>(qkv, offsets, B, T, L, out);
  FERRY_CUDA_LAUNCHED("attention_prefill_kernel");
}

// ---- KV append -----------------------------------------------------------------------------------

// qkv[T, ld] f32 with k at columns [q_width, q_width + kv_width) and v right after it, seq[T] i32,
// pos[T] i32, k_cache/v_cache[S, cap, kv_width] of type C. Rows whose seq or pos is out of range are
// skipped (the device cannot report them).
template <class C>
__global__ void kv_append_kernel(const float* __restrict__ qkv, const std::int32_t* __restrict__ seq,
                                 const std::int32_t* __restrict__ pos, C* __restrict__ k_cache, C* __restrict__ v_cache,
                                 int S, int cap, std::int64_t ld, int q_width, int kv_width) {
  const std::int64_t t = blockIdx.x;
  const int sq = seq[t];
  const int p = pos[t];
  if (sq < 0 || sq >= S || p < 0 || p >= cap) return;
  const float* src = qkv + t * ld + q_width;
  const std::int64_t dst = (static_cast<std::int64_t>(sq) * cap + p) * kv_width;
  for (int i = threadIdx.x; i < kv_width; i += blockDim.x) {
    k_cache[dst + i] = from_f32<C>(src[i]);
    v_cache[dst + i] = from_f32<C>(src[kv_width + i]);
  }
}

// ---- decode --------------------------------------------------------------------------------------

constexpr int kDecodeWarps = 8;

// One block per (row b, head h). Warp w takes the key groups w, w + kDecodeWarps, ... of 32 keys
// (one key per lane), keeps its own online-softmax state, and the warps' states are merged at the
// end: out = sum_w o_w e^(m_w - M) / sum_w l_w e^(m_w - M), M = max_w m_w.
// qkv[B, L.ld] f32, k_cache/v_cache[S, cap, L.kv_width] of type C, seq[B] i32, len[B] i32,
// out[B, L.q_width] f32; query head h = blockIdx.y reads KV head h / L.group.
// A row with seq out of range gets NaN; len is clamped to [0, cap]; len = 0 gives zeros.
template <int NC, class C>
__global__ void __launch_bounds__(kDecodeWarps * kWarp)
    attention_decode_kernel(const float* __restrict__ qkv, const C* __restrict__ k_cache, const C* __restrict__ v_cache,
                            const std::int32_t* __restrict__ seq, const std::int32_t* __restrict__ len, int S, int cap,
                            QkvLayout L, float* __restrict__ out) {
  __shared__ float q[kMaxHeadDim];
  __shared__ float m_w[kDecodeWarps];
  __shared__ float l_w[kDecodeWarps];
  __shared__ float o_w[kDecodeWarps][kMaxHeadDim];

  const int lane = threadIdx.x % kWarp;
  const int warp = threadIdx.x / kWarp;
  const int b = blockIdx.x;
  const int h = blockIdx.y;
  const int D = L.D;
  const std::int64_t kv_ld = L.kv_width;
  float* dst = out + b * static_cast<std::int64_t>(L.q_width) + h * D;
  const int sq = seq[b];
  if (sq < 0 || sq >= S) {
    for (int d = threadIdx.x; d < D; d += blockDim.x) dst[d] = __int_as_float(0x7fc00000);
    return;
  }
  const int n = min(max(len[b], 0), cap);
  if (n == 0) {
    for (int d = threadIdx.x; d < D; d += blockDim.x) dst[d] = 0.0f;
    return;
  }

  const float* q_src = qkv + b * L.ld + h * D;
  for (int d = threadIdx.x; d < D; d += blockDim.x) q[d] = q_src[d] * L.scale;
  __syncthreads();

  const std::int64_t slot = static_cast<std::int64_t>(sq) * cap * kv_ld + (h / L.group) * D;  // its KV head
  const C* kbase = k_cache + slot;
  const C* vbase = v_cache + slot;
  float m = -INFINITY;
  float l = 0.0f;
  float o[NC];
#pragma unroll
  for (int c = 0; c < NC; ++c) o[c] = 0.0f;

  for (int g0 = warp * kWarp; g0 < n; g0 += kDecodeWarps * kWarp) {
    const int key = g0 + lane;
    float score = -INFINITY;
    if (key < n) {
      const C* k = kbase + static_cast<std::int64_t>(key) * kv_ld;
      float acc = 0.0f;
      for (int d = 0; d < D; ++d) acc = fmaf(q[d], to_f32(k[d]), acc);
      score = acc;
    }
    const float m_new = fmaxf(m, warp_max(score));  // finite: key g0 < n is visible
    const float alpha = expf(m - m_new);
    const float p = expf(score - m_new);
    l = l * alpha + warp_sum(p);
    m = m_new;
#pragma unroll
    for (int c = 0; c < NC; ++c) o[c] *= alpha;
    const int j_hi = min(kWarp, n - g0);
    for (int j = 0; j < j_hi; ++j) {
      const float pj = __shfl_sync(0xffffffffu, p, j);
      const C* v = vbase + static_cast<std::int64_t>(g0 + j) * kv_ld;
#pragma unroll
      for (int c = 0; c < NC; ++c) {
        const int d = lane + c * kWarp;
        if (d < D) o[c] = fmaf(pj, to_f32(v[d]), o[c]);
      }
    }
  }

  if (lane == 0) {
    m_w[warp] = m;  // -inf with l = 0 for a warp that saw no key
    l_w[warp] = l;
  }
#pragma unroll
  for (int c = 0; c < NC; ++c) {
    const int d = lane + c * kWarp;
    if (d < D) o_w[warp][d] = o[c];
  }
  __syncthreads();

  float M = -INFINITY;
  for (int w = 0; w < kDecodeWarps; ++w) M = fmaxf(M, m_w[w]);
  float l_sum = 0.0f;
  for (int w = 0; w < kDecodeWarps; ++w) l_sum += l_w[w] * expf(m_w[w] - M);
  for (int d = threadIdx.x; d < D; d += blockDim.x) {
    float acc = 0.0f;
    for (int w = 0; w < kDecodeWarps; ++w) acc += o_w[w][d] * expf(m_w[w] - M);
    dst[d] = acc / l_sum;
  }
}

template <int NC, class C>
void launch_decode(const float* qkv, const C* k_cache, const C* v_cache, const std::int32_t* seq,
                   const std::int32_t* len, int B, int S, int cap, const QkvLayout& L, int n_heads, float* out,
                   cudaStream_t s) {
  const dim3 grid(static_cast<unsigned>(B), static_cast<unsigned>(n_heads));
  attention_decode_kernel<NC, C><<<grid, kDecodeWarps * kWarp, 0, s>>>(qkv, k_cache, v_cache, seq, len, S, cap, L,
                                                                       out);
  FERRY_CUDA_LAUNCHED("attention_decode_kernel");
}

// ---- launchers -----------------------------------------------------------------------------------

void require_head_dim(std::int64_t D, const char* op) {
  if (D < 1 || D > kMaxHeadDim)
    throw InternalError(std::string(op) + ": head dim " + std::to_string(D) + " outside [1, " +
                        std::to_string(kMaxHeadDim) + "] is not supported on CUDA");
}

int head_dim(std::int64_t H, int n_heads, const char* op) {
  if (n_heads <= 0 || H % n_heads != 0)
    throw InternalError(std::string(op) + ": hidden " + std::to_string(H) + " is not a multiple of n_heads " +
                        std::to_string(n_heads));
  const std::int64_t D = H / n_heads;
  require_head_dim(D, op);
  return static_cast<int>(D);
}

// The GPT-2 geometry: qkv[., 3H], n_kv_heads = n_heads, D = H / n_heads, scale 1/sqrt(D) in f32 (what
// the CPU's GPT-2 signatures use as well).
QkvLayout mha_layout(std::int64_t H, int D) {
  return QkvLayout{3 * H, static_cast<int>(H), static_cast<int>(H), 1, D, 1.0f / std::sqrt(static_cast<float>(D))};
}

// The GQA geometry of `a` for qkv rows of (n_heads + 2 n_kv_heads) head_dim columns.
QkvLayout gqa_layout(const TensorView& qkv, const AttentionShape& a, const char* op) {
  require_shape(a.n_heads > 0 && a.n_kv_heads > 0 && a.head_dim > 0 && a.n_heads % a.n_kv_heads == 0, op,
                "n_heads a multiple of n_kv_heads, all > 0");
  require_head_dim(a.head_dim, op);
  require_dtype(qkv, DType::F32, op, "qkv");
  const std::int64_t q_width = static_cast<std::int64_t>(a.n_heads) * a.head_dim;
  const std::int64_t kv_width = static_cast<std::int64_t>(a.n_kv_heads) * a.head_dim;
  require_shape(qkv.shape.rank == 2 && qkv.dim(1) == q_width + 2 * kv_width, op,
                "qkv[., (n_heads + 2 n_kv_heads) head_dim]");
  require_shape(qkv.dim(1) < (std::int64_t{1} << 30), op, "qkv row width fits an int");
  return QkvLayout{qkv.dim(1), static_cast<int>(q_width), static_cast<int>(kv_width), a.n_heads / a.n_kv_heads,
                   a.head_dim, a.scale, a.causal};
}

// qkv[T, L.ld] (checked), offsets[B+1], out[T, L.q_width].
void prefill(cudaStream_t s, TensorView qkv, TensorView offsets, const QkvLayout& L, int n_heads, TensorView out,
             const char* op) {
  require_dtype(out, DType::F32, op, "out");
  require_dtype(offsets, DType::I32, op, "offsets");
  const std::int64_t T = qkv.dim(0);
  require_shape(out.shape.rank == 2 && out.dim(0) == T && out.dim(1) == L.q_width, op, "out[T, n_heads head_dim]");
  require_shape(offsets.shape.rank == 1 && offsets.numel() >= 1, op, "offsets[B+1]");
  // q0 + kBr and the tile bounds are int arithmetic in the kernel: keep T well inside an int.
  require_shape(T <= (std::int64_t{1} << 30), op, "T fits an int");
  if (T == 0) return;
  require_shape(offsets.numel() >= 2, op, "offsets[B+1] with B >= 1 when T > 0");
  require_shape(offsets.numel() - 1 < (std::int64_t{1} << 31), op, "B fits an int");
  const int B = static_cast<int>(offsets.numel() - 1);

  DeviceGuard guard(s);
  const auto* q = qkv.as<const float>();
  const auto* off = offsets.as<const std::int32_t>();
  float* o = out.as<float>();
  const int Ti = static_cast<int>(T);
  switch ((L.D + kWarp - 1) / kWarp) {
    case 1:
      launch_prefill<1>(q, off, B, Ti, L, n_heads, o, s);
      break;
    case 2:
      launch_prefill<2>(q, off, B, Ti, L, n_heads, o, s);
      break;
    case 3:
      launch_prefill<3>(q, off, B, Ti, L, n_heads, o, s);
      break;
    default:
      launch_prefill<4>(q, off, B, Ti, L, n_heads, o, s);
      break;
  }
}

// qkv[T, L.ld] (checked), seq[T], pos[T], caches[S, cap, L.kv_width].
void append(cudaStream_t s, TensorView qkv, TensorView seq, TensorView pos, TensorView k_cache, TensorView v_cache,
            const QkvLayout& L, const char* op) {
  require_dtype(seq, DType::I32, op, "seq");
  require_dtype(pos, DType::I32, op, "pos");
  if (k_cache.dtype != v_cache.dtype)
    throw InternalError(std::string(op) + ": k_cache and v_cache must have one dtype");
  const std::int64_t T = qkv.dim(0);
  require_shape(seq.numel() == T && pos.numel() == T, op, "seq[T], pos[T]");
  require_shape(k_cache.shape.rank == 3 && k_cache.shape == v_cache.shape && k_cache.dim(2) == L.kv_width, op,
                "k_cache[S, cap, n_kv_heads head_dim], v_cache of the same shape");
  require_shape(k_cache.dim(0) < (std::int64_t{1} << 31) && k_cache.dim(1) < (std::int64_t{1} << 31) &&
                    T < (std::int64_t{1} << 31),
                op, "T, S, cap fit an int");
  if (T == 0 || L.kv_width == 0) return;

  DeviceGuard guard(s);
  const int threads = L.kv_width >= 512 ? 256 : 128;
  dispatch_float(k_cache.dtype, op, "k_cache", [&](auto tag) {
    using C = decltype(tag);
    kv_append_kernel<C><<<static_cast<unsigned>(T), threads, 0, s>>>(
        qkv.as<const float>(), seq.as<const std::int32_t>(), pos.as<const std::int32_t>(), k_cache.as<C>(),
        v_cache.as<C>(), static_cast<int>(k_cache.dim(0)), static_cast<int>(k_cache.dim(1)), L.ld, L.q_width,
        L.kv_width);
    FERRY_CUDA_LAUNCHED("kv_append_kernel");
  });
}

// qkv[B, L.ld] (checked), caches[S, cap, L.kv_width], seq[B], len[B], out[B, L.q_width].
void decode(cudaStream_t s, TensorView qkv, TensorView k_cache, TensorView v_cache, TensorView seq, TensorView len,
            const QkvLayout& L, int n_heads, TensorView out, const char* op) {
  require_dtype(out, DType::F32, op, "out");
  require_dtype(seq, DType::I32, op, "seq");
  require_dtype(len, DType::I32, op, "len");
  if (k_cache.dtype != v_cache.dtype)
    throw InternalError(std::string(op) + ": k_cache and v_cache must have one dtype");
  const std::int64_t B = qkv.dim(0);
  require_shape(out.shape.rank == 2 && out.dim(0) == B && out.dim(1) == L.q_width, op, "out[B, n_heads head_dim]");
  require_shape(seq.numel() == B && len.numel() == B, op, "seq[B], len[B]");
  require_shape(k_cache.shape.rank == 3 && k_cache.shape == v_cache.shape && k_cache.dim(2) == L.kv_width, op,
                "k_cache[S, cap, n_kv_heads head_dim], v_cache of the same shape");
  require_shape(B < (std::int64_t{1} << 31) && k_cache.dim(0) < (std::int64_t{1} << 31) &&
                    k_cache.dim(1) < (std::int64_t{1} << 31),
                op, "B, S, cap fit an int");
  if (B == 0) return;

  DeviceGuard guard(s);
  const int Bi = static_cast<int>(B);
  const int S = static_cast<int>(k_cache.dim(0));
  const int cap = static_cast<int>(k_cache.dim(1));
  dispatch_float(k_cache.dtype, op, "k_cache", [&](auto tag) {
    using C = decltype(tag);
    const auto* q = qkv.as<const float>();
    const auto* kc = k_cache.as<const C>();
    const auto* vc = v_cache.as<const C>();
    const auto* sq = seq.as<const std::int32_t>();
    const auto* ln = len.as<const std::int32_t>();
    float* o = out.as<float>();
    switch ((L.D + kWarp - 1) / kWarp) {
      case 1:
        launch_decode<1, C>(q, kc, vc, sq, ln, Bi, S, cap, L, n_heads, o, s);
        break;
      case 2:
        launch_decode<2, C>(q, kc, vc, sq, ln, Bi, S, cap, L, n_heads, o, s);
        break;
      case 3:
        launch_decode<3, C>(q, kc, vc, sq, ln, Bi, S, cap, L, n_heads, o, s);
        break;
      default:
        launch_decode<4, C>(q, kc, vc, sq, ln, Bi, S, cap, L, n_heads, o, s);
        break;
    }
  });
}

// qkv[., 3H] of the GPT-2 signatures: f32, rank 2, H = width / 3 fits an int.
std::int64_t mha_hidden(const TensorView& qkv, const char* op) {
  require_dtype(qkv, DType::F32, op, "qkv");
  require_shape(qkv.shape.rank == 2 && qkv.dim(1) % 3 == 0, op, "qkv[., 3H]");
  require_shape(qkv.dim(1) < (std::int64_t{1} << 30), op, "qkv row width fits an int");
  return qkv.dim(1) / 3;
}

}  // namespace

// GPT-2 signatures: the GQA kernels with n_kv_heads = n_heads, D = H / n_heads, scale 1/sqrt(D).
void attention_prefill(void* stream, TensorView qkv, TensorView offsets, int n_heads, TensorView out) {
  const char* op = "attention_prefill";
  const std::int64_t H = mha_hidden(qkv, op);
  if (H == 0) return;  // out[T, 0]: nothing to write (as on the CPU)
  const int D = head_dim(H, n_heads, op);
  prefill(as_stream(stream), qkv, offsets, mha_layout(H, D), n_heads, out, op);
}

void kv_append(void* stream, TensorView qkv, TensorView seq, TensorView pos, TensorView k_cache, TensorView v_cache) {
  const char* op = "kv_append";
  const std::int64_t H = mha_hidden(qkv, op);
  if (H == 0) return;  // nothing to copy
  // kv_append does not depend on the head split (the layout's head dim and scale are unused).
  const QkvLayout L{3 * H, static_cast<int>(H), static_cast<int>(H), 1, 1, 1.0f};
  append(as_stream(stream), qkv, seq, pos, k_cache, v_cache, L, op);
}

void attention_decode(void* stream, TensorView qkv, TensorView k_cache, TensorView v_cache, TensorView seq,
                      TensorView len, int n_heads, TensorView out) {
  const char* op = "attention_decode";
  const std::int64_t H = mha_hidden(qkv, op);
  if (H == 0) return;  // out[B, 0]: nothing to write (as on the CPU)
  const int D = head_dim(H, n_heads, op);
  decode(as_stream(stream), qkv, k_cache, v_cache, seq, len, mha_layout(H, D), n_heads, out, op);
}

// Grouped-query launchers (ops/ops.h).
void attention_prefill(void* stream, TensorView qkv, TensorView offsets, const AttentionShape& a, TensorView out) {
  const char* op = "attention_prefill";
  prefill(as_stream(stream), qkv, offsets, gqa_layout(qkv, a, op), a.n_heads, out, op);
}

void kv_append(void* stream, TensorView qkv, TensorView seq, TensorView pos, TensorView k_cache, TensorView v_cache,
               const AttentionShape& a) {
  const char* op = "kv_append";
  append(as_stream(stream), qkv, seq, pos, k_cache, v_cache, gqa_layout(qkv, a, op), op);
}

void attention_decode(void* stream, TensorView qkv, TensorView k_cache, TensorView v_cache, TensorView seq,
                      TensorView len, const AttentionShape& a, TensorView out) {
  const char* op = "attention_decode";
  decode(as_stream(stream), qkv, k_cache, v_cache, seq, len, gqa_layout(qkv, a, op), a.n_heads, out, op);
}

}  // namespace ferry::ops::cuda
