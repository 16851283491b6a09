// CUDA attention: causal prefill over nested sequences, KV-cache append, and decode attention.
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
#include <cmath>
#include <cstdint>
#include <string>

#include "ops/cuda.h"
#include "ops/cuda_common.cuh"

namespace ferry::ops::cuda {
namespace {

constexpr int kMaxHeadDim = 128;

// ---- prefill -------------------------------------------------------------------------------------

constexpr int kBr = 32;                  // query rows per block
constexpr int kBc = 32;                  // keys per tile (one per lane)
constexpr int kPrefillWarps = 4;
constexpr int kRowsPerWarp = kBr / kPrefillWarps;

// Start row of the sequence that holds `row`: the largest b with offsets[b] <= row (offsets[0] = 0,
// offsets[B] = T > row).
__device__ __forceinline__ int sequence_start(const std::int32_t* __restrict__ offsets, int B, int row) {
  int lo = 0;
  int hi = B;
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (offsets[mid] <= row)
      lo = mid;
    else
      hi = mid;
  }
  return offsets[lo];
}

// qkv[T, 3H] f32, offsets[B+1] i32, out[T, H] f32; D = H / n_heads <= 32 * NC.
// Dynamic shared memory: Q[kBr][D] (pre-scaled), K[kBc][D+1] (padded: lane j reads row j without
// bank conflicts), V[kBc][D].
template <int NC>
__global__ void __launch_bounds__(kPrefillWarps * kWarp)
    attention_prefill_kernel(const float* __restrict__ qkv, const std::int32_t* __restrict__ offsets, int B, int T,
                             int H, int D, float scale, float* __restrict__ out) {
  extern __shared__ float smem[];
  float* Qs = smem;
  float* Ks = Qs + kBr * D;
  float* Vs = Ks + kBc * (D + 1);

  const int lane = threadIdx.x % kWarp;
  const int warp = threadIdx.x / kWarp;
  const int h = blockIdx.y;
  const int q0 = blockIdx.x * kBr;
  const std::int64_t ld = 3 * static_cast<std::int64_t>(H);

  for (int i = threadIdx.x; i < kBr * D; i += blockDim.x) {
    const int r = i / D;
    const int d = i - r * D;
    const int row = q0 + r;
    Qs[i] = row < T ? qkv[row * ld + h * D + d] * scale : 0.0f;
  }

  int row_start[kRowsPerWarp];
  float m[kRowsPerWarp];
  float l[kRowsPerWarp];
  float o[kRowsPerWarp][NC];
#pragma unroll
  for (int rr = 0; rr < kRowsPerWarp; ++rr) {
    const int row = q0 + warp * kRowsPerWarp + rr;
    row_start[rr] = row < T ? sequence_start(offsets, B, row) : 0;
    m[rr] = -INFINITY;
    l[rr] = 0.0f;
#pragma unroll
    for (int c = 0; c < NC; ++c) o[rr][c] = 0.0f;
  }

  // Keys this block needs: from the first row's sequence start to the last row.
  const int k_begin = sequence_start(offsets, B, q0);
  const int k_end = min(q0 + kBr, T) - 1;

  for (int k0 = k_begin; k0 <= k_end; k0 += kBc) {
    __syncthreads();  // the previous tile is consumed (and Q is stored before the first one)
    for (int i = threadIdx.x; i < kBc * D; i += blockDim.x) {
      const int j = i / D;
      const int d = i - j * D;
      const int key = k0 + j;
      float kv = 0.0f;
      float vv = 0.0f;
      if (key <= k_end) {
        const float* src = qkv + key * ld + h * D + d;
        kv = src[H];
        vv = src[2 * static_cast<std::int64_t>(H)];
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
      // Warp-uniform: skip rows past T and tiles with no key in [rs, row]. Otherwise at least one
      // key of the tile is visible, so the tile maximum below is finite.
      if (row >= T || k0 > row || k0 + kBc - 1 < rs) continue;
      const int key = k0 + lane;
      float score = -INFINITY;
      if (key >= rs && key <= row) {
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
      const int j_hi = min(row, k0 + kBc - 1) - k0;
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
      if (d < D) out[row * static_cast<std::int64_t>(H) + h * D + d] = o[rr][c] * inv;
    }
  }
}

template <int NC>
void launch_prefill(const float* qkv, const std::int32_t* offsets, int B, int T, int H, int n_heads, int D,
                    float* out, cudaStream_t s) {
  const std::size_t d = static_cast<std::size_t>(D);
  const std::size_t smem = sizeof(float) * (kBr * d + kBc * (d + 1) + kBc * d);  // Q, K (padded), V
  // Above 48 KiB of dynamic shared memory a kernel must opt in (D = 128 needs about 48.1 KiB).
  FERRY_CUDA(cudaFuncSetAttribute(attention_prefill_kernel<NC>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                  static_cast<int>(smem)));
  const dim3 grid(static_cast<unsigned>((T + kBr - 1) / kBr), static_cast<unsigned>(n_heads));
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  attention_prefill_kernel<NC><<<grid, kPrefillWarps * kWarp, smem, s>>>(qkv, offsets, B, T, H, D, scale, out);
  FERRY_CUDA_LAUNCHED("attention_prefill_kernel");
}

// ---- KV append -----------------------------------------------------------------------------------

// qkv[T, 3H] f32, seq[T] i32, pos[T] i32, k_cache/v_cache[S, cap, H] of type C. Rows whose seq or
// pos is out of range are skipped (the device cannot report them).
template <class C>
__global__ void kv_append_kernel(const float* __restrict__ qkv, const std::int32_t* __restrict__ seq,
                                 const std::int32_t* __restrict__ pos, C* __restrict__ k_cache, C* __restrict__ v_cache,
                                 int S, int cap, int H) {
  const std::int64_t t = blockIdx.x;
  const int sq = seq[t];
  const int p = pos[t];
  if (sq < 0 || sq >= S || p < 0 || p >= cap) return;
  const float* src = qkv + t * 3 * static_cast<std::int64_t>(H);
  const std::int64_t dst = (static_cast<std::int64_t>(sq) * cap + p) * H;
  for (int i = threadIdx.x; i < H; i += blockDim.x) {
    k_cache[dst + i] = from_f32<C>(src[H + i]);
    v_cache[dst + i] = from_f32<C>(src[2 * H + i]);
  }
}

// ---- decode --------------------------------------------------------------------------------------

constexpr int kDecodeWarps = 8;

// One block per (row b, head h). Warp w takes the key groups w, w + kDecodeWarps, ... of 32 keys
// (one key per lane), keeps its own online-softmax state, and the warps' states are merged at the
// end: out = sum_w o_w e^(m_w - M) / sum_w l_w e^(m_w - M), M = max_w m_w.
// qkv[B, 3H] f32, k_cache/v_cache[S, cap, H] of type C, seq[B] i32, len[B] i32, out[B, H] f32.
// A row with seq out of range gets NaN; len is clamped to [0, cap]; len = 0 gives zeros.
template <int NC, class C>
__global__ void __launch_bounds__(kDecodeWarps * kWarp)
    attention_decode_kernel(const float* __restrict__ qkv, const C* __restrict__ k_cache, const C* __restrict__ v_cache,
                            const std::int32_t* __restrict__ seq, const std::int32_t* __restrict__ len, int S, int cap,
                            int H, int D, float scale, float* __restrict__ out) {
  __shared__ float q[kMaxHeadDim];
  __shared__ float m_w[kDecodeWarps];
  __shared__ float l_w[kDecodeWarps];
  __shared__ float o_w[kDecodeWarps][kMaxHeadDim];

  const int lane = threadIdx.x % kWarp;
  const int warp = threadIdx.x / kWarp;
  const int b = blockIdx.x;
  const int h = blockIdx.y;
  float* dst = out + b * static_cast<std::int64_t>(H) + h * D;
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

  const float* q_src = qkv + b * 3 * static_cast<std::int64_t>(H) + h * D;
  for (int d = threadIdx.x; d < D; d += blockDim.x) q[d] = q_src[d] * scale;
  __syncthreads();

  const C* kbase = k_cache + static_cast<std::int64_t>(sq) * cap * H + h * D;
  const C* vbase = v_cache + static_cast<std::int64_t>(sq) * cap * H + h * D;
  float m = -INFINITY;
  float l = 0.0f;
  float o[NC];
#pragma unroll
  for (int c = 0; c < NC; ++c) o[c] = 0.0f;

  for (int g0 = warp * kWarp; g0 < n; g0 += kDecodeWarps * kWarp) {
    const int key = g0 + lane;
    float score = -INFINITY;
    if (key < n) {
      const C* k = kbase + static_cast<std::int64_t>(key) * H;
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
      const C* v = vbase + static_cast<std::int64_t>(g0 + j) * H;
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
  float L = 0.0f;
  for (int w = 0; w < kDecodeWarps; ++w) L += l_w[w] * expf(m_w[w] - M);
  for (int d = threadIdx.x; d < D; d += blockDim.x) {
    float acc = 0.0f;
    for (int w = 0; w < kDecodeWarps; ++w) acc += o_w[w][d] * expf(m_w[w] - M);
    dst[d] = acc / L;
  }
}

template <int NC, class C>
void launch_decode(const float* qkv, const C* k_cache, const C* v_cache, const std::int32_t* seq,
                   const std::int32_t* len, int B, int S, int cap, int H, int n_heads, int D, float* out,
                   cudaStream_t s) {
  const dim3 grid(static_cast<unsigned>(B), static_cast<unsigned>(n_heads));
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  attention_decode_kernel<NC, C><<<grid, kDecodeWarps * kWarp, 0, s>>>(qkv, k_cache, v_cache, seq, len, S, cap, H, D,
                                                                       scale, out);
  FERRY_CUDA_LAUNCHED("attention_decode_kernel");
}

int head_dim(std::int64_t H, int n_heads, const char* op) {
  if (n_heads <= 0 || H % n_heads != 0)
    throw InternalError(std::string(op) + ": hidden " + std::to_string(H) + " is not a multiple of n_heads " +
                        std::to_string(n_heads));
  const std::int64_t D = H / n_heads;
  if (D > kMaxHeadDim)
    throw InternalError(std::string(op) + ": head dim " + std::to_string(D) + " > " + std::to_string(kMaxHeadDim) +
                        " is not supported on CUDA");
  return static_cast<int>(D);
}

}  // namespace

void attention_prefill(void* stream, TensorView qkv, TensorView offsets, int n_heads, TensorView out) {
  const char* op = "attention_prefill";
  require_dtype(qkv, DType::F32, op, "qkv");
  require_dtype(out, DType::F32, op, "out");
  require_dtype(offsets, DType::I32, op, "offsets");
  require_shape(qkv.shape.rank == 2 && out.shape.rank == 2 && qkv.dim(1) % 3 == 0, op, "qkv[T, 3H], out[T, H]");
  const std::int64_t T = qkv.dim(0);
  const std::int64_t H = qkv.dim(1) / 3;
  require_shape(out.dim(0) == T && out.dim(1) == H, op, "out[T, H]");
  require_shape(offsets.numel() >= 2, op, "offsets[B+1] with B >= 1");
  require_shape(T < (std::int64_t{1} << 31) / 3 && 3 * H * T < (std::int64_t{1} << 62), op, "T fits an int");
  const int D = head_dim(H, n_heads, op);
  if (T == 0) return;
  const int B = static_cast<int>(offsets.numel() - 1);

  cudaStream_t s = as_stream(stream);
  DeviceGuard guard(s);
  const auto* q = qkv.as<const float>();
  const auto* off = offsets.as<const std::int32_t>();
  float* o = out.as<float>();
  const int Ti = static_cast<int>(T);
  const int Hi = static_cast<int>(H);
  switch ((D + kWarp - 1) / kWarp) {
    case 1:
      launch_prefill<1>(q, off, B, Ti, Hi, n_heads, D, o, s);
      break;
    case 2:
      launch_prefill<2>(q, off, B, Ti, Hi, n_heads, D, o, s);
      break;
    case 3:
      launch_prefill<3>(q, off, B, Ti, Hi, n_heads, D, o, s);
      break;
    default:
      launch_prefill<4>(q, off, B, Ti, Hi, n_heads, D, o, s);
      break;
  }
}

void kv_append(void* stream, TensorView qkv, TensorView seq, TensorView pos, TensorView k_cache, TensorView v_cache) {
  const char* op = "kv_append";
  require_dtype(qkv, DType::F32, op, "qkv");
  require_dtype(seq, DType::I32, op, "seq");
  require_dtype(pos, DType::I32, op, "pos");
  if (k_cache.dtype != v_cache.dtype) throw InternalError("kv_append: k_cache and v_cache must have one dtype");
  require_shape(qkv.shape.rank == 2 && qkv.dim(1) % 3 == 0, op, "qkv[T, 3H]");
  const std::int64_t T = qkv.dim(0);
  const std::int64_t H = qkv.dim(1) / 3;
  require_shape(seq.numel() == T && pos.numel() == T, op, "seq[T], pos[T]");
  require_shape(k_cache.shape.rank == 3 && k_cache.shape == v_cache.shape && k_cache.dim(2) == H, op,
                "k_cache[S, cap, H], v_cache[S, cap, H]");
  require_shape(k_cache.dim(0) < (std::int64_t{1} << 31) && k_cache.dim(1) < (std::int64_t{1} << 31) &&
                    H < (std::int64_t{1} << 30),
                op, "S, cap, H fit an int");
  if (T == 0 || H == 0) return;

  cudaStream_t s = as_stream(stream);
  DeviceGuard guard(s);
  const int threads = H >= 512 ? 256 : 128;
  dispatch_float(k_cache.dtype, op, "k_cache", [&](auto tag) {
    using C = decltype(tag);
    kv_append_kernel<C><<<static_cast<unsigned>(T), threads, 0, s>>>(
        qkv.as<const float>(), seq.as<const std::int32_t>(), pos.as<const std::int32_t>(), k_cache.as<C>(),
        v_cache.as<C>(), static_cast<int>(k_cache.dim(0)), static_cast<int>(k_cache.dim(1)), static_cast<int>(H));
    FERRY_CUDA_LAUNCHED("kv_append_kernel");
  });
}

void attention_decode(void* stream, TensorView qkv, TensorView k_cache, TensorView v_cache, TensorView seq,
                      TensorView len, int n_heads, TensorView out) {
  const char* op = "attention_decode";
  require_dtype(qkv, DType::F32, op, "qkv");
  require_dtype(out, DType::F32, op, "out");
  require_dtype(seq, DType::I32, op, "seq");
  require_dtype(len, DType::I32, op, "len");
  if (k_cache.dtype != v_cache.dtype) throw InternalError("attention_decode: k_cache and v_cache must have one dtype");
  require_shape(qkv.shape.rank == 2 && qkv.dim(1) % 3 == 0, op, "qkv[B, 3H]");
  const std::int64_t B = qkv.dim(0);
  const std::int64_t H = qkv.dim(1) / 3;
  require_shape(out.shape.rank == 2 && out.dim(0) == B && out.dim(1) == H, op, "out[B, H]");
  require_shape(seq.numel() == B && len.numel() == B, op, "seq[B], len[B]");
  require_shape(k_cache.shape.rank == 3 && k_cache.shape == v_cache.shape && k_cache.dim(2) == H, op,
                "k_cache[S, cap, H], v_cache[S, cap, H]");
  require_shape(B < (std::int64_t{1} << 31) && k_cache.dim(0) < (std::int64_t{1} << 31) &&
                    k_cache.dim(1) < (std::int64_t{1} << 31) && H < (std::int64_t{1} << 30),
                op, "B, S, cap, H fit an int");
  const int D = head_dim(H, n_heads, op);
  if (B == 0) return;

  cudaStream_t s = as_stream(stream);
  DeviceGuard guard(s);
  const int Bi = static_cast<int>(B);
  const int S = static_cast<int>(k_cache.dim(0));
  const int cap = static_cast<int>(k_cache.dim(1));
  const int Hi = static_cast<int>(H);
  dispatch_float(k_cache.dtype, op, "k_cache", [&](auto tag) {
    using C = decltype(tag);
    const auto* q = qkv.as<const float>();
    const auto* kc = k_cache.as<const C>();
    const auto* vc = v_cache.as<const C>();
    const auto* sq = seq.as<const std::int32_t>();
    const auto* ln = len.as<const std::int32_t>();
    float* o = out.as<float>();
    switch ((D + kWarp - 1) / kWarp) {
      case 1:
        launch_decode<1, C>(q, kc, vc, sq, ln, Bi, S, cap, Hi, n_heads, D, o, s);
        break;
      case 2:
        launch_decode<2, C>(q, kc, vc, sq, ln, Bi, S, cap, Hi, n_heads, D, o, s);
        break;
      case 3:
        launch_decode<3, C>(q, kc, vc, sq, ln, Bi, S, cap, Hi, n_heads, D, o, s);
        break;
      default:
        launch_decode<4, C>(q, kc, vc, sq, ln, Bi, S, cap, Hi, n_heads, D, o, s);
        break;
    }
  });
}

}  // namespace ferry::ops::cuda
