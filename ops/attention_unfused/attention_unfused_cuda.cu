// CUDA attention over nested sequences, unfused (causal, or bidirectional with an optional key
// mask key_len[b] for padded batches): the comparison path of `ferry bench fusion`
// for the flash-style attention_prefill (ops/attention/attention_cuda.cu). For each sequence, three
// kernels over a materialised score matrix:
//   1. scores[h, i, j] = q_i . k_j / sqrt(D) for j <= i (16 x 16 shared-memory tiles; tiles wholly
//      above the diagonal are skipped),
//   2. a causal softmax of every row in place (block reductions), zeros above the diagonal,
//   3. out[i, h] = sum_j P[h, i, j] v_j (16 x 16 shared-memory tiles).
// The sequence lengths live in device memory, so the host loops over sequences with grids sized by
// the workspace's max_len and each kernel reads its sequence's bounds from offsets; a sequence
// longer than max_len is reported by NaN rows (the launcher cannot read offsets without a sync).
#include <cmath>
#include <cstdint>

#include "ops/cuda.h"
#include "ops/cuda_common.cuh"

namespace ferry::ops::cuda {
namespace {

constexpr int kTile = 16;
constexpr int kSoftmaxThreads = 128;

// Maximum over the block; every thread gets it. Same contract as block_sum (cuda_common.cuh).
__device__ __forceinline__ float block_max(float v, float* smem) {
  const int lane = threadIdx.x % kWarp;
  const int warp = threadIdx.x / kWarp;
  const int n_warps = blockDim.x / kWarp;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) smem[warp] = v;
  __syncthreads();
  v = lane < n_warps ? smem[lane] : -INFINITY;
  return warp_max(v);
}

// qkv[T, 3H] f32, offsets[B+1] i32, scores[n_heads, ML, ML] f32. Block (kTile, kTile), grid
// (ceil(ML / kTile), ceil(ML / kTile), n_heads): block (x, y) computes keys j0.. for queries i0...
__global__ void unfused_scores_kernel(const float* __restrict__ qkv, const std::int32_t* __restrict__ offsets, int b,
                                      int H, int D, int ML, float scale, bool causal, float* __restrict__ scores) {
  __shared__ float Qs[kTile][kTile + 1];
  __shared__ float Ks[kTile][kTile + 1];
  const int start = offsets[b];
  const int len = offsets[b + 1] - start;
  const int h = blockIdx.z;
  const int i0 = blockIdx.y * kTile;
  const int j0 = blockIdx.x * kTile;
  // Block-uniform exits: too long (kernel 3 writes NaN), outside the sequence, above the diagonal.
  if (len > ML || i0 >= len || j0 >= len || (causal && j0 > i0 + kTile - 1)) return;
  const int ti = threadIdx.y;
  const int tj = threadIdx.x;
  const int i = i0 + ti;
  const int j = j0 + tj;
  const std::int64_t ld = 3 * static_cast<std::int64_t>(H);
  float acc = 0.0f;
  for (int d0 = 0; d0 < D; d0 += kTile) {
    const int d = d0 + tj;
    Qs[ti][tj] = (i < len && d < D) ? qkv[(start + i) * ld + h * D + d] : 0.0f;
    Ks[ti][tj] = (j0 + ti < len && d < D) ? qkv[(start + j0 + ti) * ld + H + h * D + d] : 0.0f;
    __syncthreads();
#pragma unroll
    for (int dd = 0; dd < kTile; ++dd) acc = fmaf(Qs[ti][dd], Ks[tj][dd], acc);
    __syncthreads();
  }
  if (i < len && j < len && (!causal || j <= i)) scores[(static_cast<std::int64_t>(h) * ML + i) * ML + j] = acc * scale;
}

// One block per (row i, head h); grid (ML, n_heads). Row i: softmax over its visible keys j < vis
// (vis = i + 1 when causal, key_len[b] when given, else len), zeros for vis <= j < len.
__global__ void unfused_softmax_kernel(const std::int32_t* __restrict__ offsets, const std::int32_t* __restrict__ key_len,
                                       int b, int ML, bool causal, float* __restrict__ scores) {
  __shared__ float smem[kWarp];
  const int len = offsets[b + 1] - offsets[b];
  const int i = blockIdx.x;
  if (len > ML || i >= len) return;  // block-uniform
  const int keys = key_len ? min(max(key_len[b], 0), len) : len;
  const int vis = causal ? min(i + 1, keys) : keys;
  float* p = scores + (static_cast<std::int64_t>(blockIdx.y) * ML + i) * ML;
  float m = -INFINITY;
  for (int j = threadIdx.x; j < vis; j += blockDim.x) m = fmaxf(m, p[j]);
  m = block_max(m, smem);
  float sum = 0.0f;
  for (int j = threadIdx.x; j < vis; j += blockDim.x) {
    const float e = expf(p[j] - m);
    p[j] = e;
    sum += e;
  }
  const float total = block_sum(sum, smem);
  const float inv = vis > 0 ? 1.0f / total : 0.0f;  // a row with no visible key is all zeros
  for (int j = threadIdx.x; j < len; j += blockDim.x) p[j] = j < vis ? p[j] * inv : 0.0f;
}

// out[T, H] f32. Block (kTile, kTile), grid (ceil(D / kTile), ceil(ML / kTile), n_heads): thread
// (ty, tx) computes out[start + i, h*D + d] for i = i0 + ty, d = d0 + tx.
__global__ void unfused_pv_kernel(const float* __restrict__ qkv, const std::int32_t* __restrict__ offsets, int b,
                                  int H, int D, int ML, bool causal, const float* __restrict__ scores,
                                  float* __restrict__ out) {
  __shared__ float Ps[kTile][kTile + 1];
  __shared__ float Vs[kTile][kTile + 1];
  const int start = offsets[b];
  const int len = offsets[b + 1] - start;
  const int h = blockIdx.z;
  const int ty = threadIdx.y;
  const int tx = threadIdx.x;
  const int d = blockIdx.x * kTile + tx;
  if (len > ML) {  // the workspace could not hold this sequence: make it visible
    for (int i = blockIdx.y * kTile + ty; i < len; i += gridDim.y * kTile)
      if (d < D) out[(start + static_cast<std::int64_t>(i)) * H + h * D + d] = __int_as_float(0x7fc00000);
    return;
  }
  const int i0 = blockIdx.y * kTile;
  if (i0 >= len) return;  // block-uniform
  const int i = i0 + ty;
  const std::int64_t ld = 3 * static_cast<std::int64_t>(H);
  const float* P = scores + static_cast<std::int64_t>(h) * ML * ML;
  const int j_end = causal ? min(len, i0 + kTile) : len;  // causal: P is zero beyond the tile's last row
  float acc = 0.0f;
  for (int j0 = 0; j0 < j_end; j0 += kTile) {
    Ps[ty][tx] = (i < len && j0 + tx < j_end) ? P[static_cast<std::int64_t>(i) * ML + j0 + tx] : 0.0f;
    Vs[ty][tx] = (j0 + ty < j_end && d < D) ? qkv[(start + j0 + ty) * ld + 2 * static_cast<std::int64_t>(H) + h * D + d]
                                            : 0.0f;
    __syncthreads();
#pragma unroll
    for (int jj = 0; jj < kTile; ++jj) acc = fmaf(Ps[ty][jj], Vs[jj][tx], acc);
    __syncthreads();
  }
  if (i < len && d < D) out[(start + static_cast<std::int64_t>(i)) * H + h * D + d] = acc;
}

}  // namespace

namespace {

struct UnfusedMask {
  float scale;
  bool causal;
  const std::int32_t* key_len;  // [B] device memory, or null
};

void unfused(cudaStream_t s, TensorView qkv, TensorView offsets, int n_heads, const UnfusedMask& mask,
             TensorView scores, TensorView out) {
  const char* op = "attention_prefill_unfused";
  require_dtype(qkv, DType::F32, op, "qkv");
  require_dtype(out, DType::F32, op, "out");
  require_dtype(offsets, DType::I32, op, "offsets");
  require_dtype(scores, DType::F32, op, "scores");
  require_shape(qkv.shape.rank == 2 && out.shape.rank == 2 && qkv.dim(1) % 3 == 0, op, "qkv[T, 3H], out[T, H]");
  const std::int64_t T = qkv.dim(0);
  const std::int64_t H = qkv.dim(1) / 3;
  require_shape(out.dim(0) == T && out.dim(1) == H, op, "out[T, H]");
  require_shape(offsets.numel() >= 2, op, "offsets[B+1] with B >= 1");
  require_shape(n_heads > 0 && H % n_heads == 0, op, "n_heads divides H");
  require_shape(scores.shape.rank == 3 && scores.dim(0) == n_heads && scores.dim(1) == scores.dim(2), op,
                "scores[n_heads, max_len, max_len]");
  require_shape(T < (std::int64_t{1} << 31) / 3 && scores.dim(1) < (std::int64_t{1} << 20), op,
                "T and max_len fit the grid");
  if (T == 0) return;
  const int B = static_cast<int>(offsets.numel() - 1);
  const int D = static_cast<int>(H / n_heads);
  const int ML = static_cast<int>(scores.dim(1));
  if (ML == 0) return;

  DeviceGuard guard(s);
  const auto* q = qkv.as<const float>();
  const auto* off = offsets.as<const std::int32_t>();
  float* sc = scores.as<float>();
  float* o = out.as<float>();
  const int Hi = static_cast<int>(H);
  const unsigned tiles = static_cast<unsigned>((ML + kTile - 1) / kTile);
  const dim3 block(kTile, kTile);
  for (int b = 0; b < B; ++b) {
    unfused_scores_kernel<<<dim3(tiles, tiles, static_cast<unsigned>(n_heads)), block, 0, s>>>(q, off, b, Hi, D, ML,
                                                                                                mask.scale, mask.causal, sc);
    FERRY_CUDA_LAUNCHED("unfused_scores_kernel");
    unfused_softmax_kernel<<<dim3(static_cast<unsigned>(ML), static_cast<unsigned>(n_heads)), kSoftmaxThreads, 0, s>>>(
        off, mask.key_len, b, ML, mask.causal, sc);
    FERRY_CUDA_LAUNCHED("unfused_softmax_kernel");
    const unsigned d_tiles = static_cast<unsigned>((D + kTile - 1) / kTile);
    unfused_pv_kernel<<<dim3(d_tiles, tiles, static_cast<unsigned>(n_heads)), block, 0, s>>>(q, off, b, Hi, D, ML,
                                                                                             mask.causal, sc, o);
    FERRY_CUDA_LAUNCHED("unfused_pv_kernel");
  }
}

}  // namespace

void attention_prefill_unfused(void* stream, TensorView qkv, TensorView offsets, int n_heads, TensorView scores,
                               TensorView out) {
  const std::int64_t d = n_heads > 0 && qkv.shape.rank == 2 ? qkv.dim(1) / 3 / n_heads : 1;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d > 0 ? d : 1));
  unfused(as_stream(stream), qkv, offsets, n_heads, UnfusedMask{scale, true, nullptr}, scores, out);
}

void attention_prefill_unfused(void* stream, TensorView qkv, TensorView offsets, TensorView key_len,
                               const AttentionShape& a, TensorView scores, TensorView out) {
  const char* op = "attention_prefill_unfused";
  require_shape(a.n_kv_heads == a.n_heads, op, "n_kv_heads == n_heads");
  if (key_len.present()) {
    require_dtype(key_len, DType::I32, op, "key_len");
    require_shape(key_len.numel() == offsets.numel() - 1, op, "key_len[B]");
  }
  const UnfusedMask mask{a.scale, a.causal, key_len.present() ? key_len.as<const std::int32_t>() : nullptr};
  unfused(as_stream(stream), qkv, offsets, a.n_heads, mask, scores, out);
}

}  // namespace ferry::ops::cuda
