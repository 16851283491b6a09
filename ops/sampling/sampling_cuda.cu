// CUDA sampling, one token per row of logits[B, V]. Same rule as the CPU (ops/sampling/sampling_cpu.cpp;
// normative statement in sampling_ref.cpp):
//   greedy: argmax, lowest index on ties, NaN never wins (all -inf/NaN: index 0). One block per row,
//           block-wide (value, index) reduction.
//   else:   1. order tokens by logit descending, ties by lower index, NaN as -inf: a stable segmented
//              radix sort of (key, index) pairs (cub::DeviceSegmentedSort::StableSortPairsDescending;
//              -0.0 is stored as +0.0 so that the radix order equals the CPU's comparison order);
//           2. keep the first k = top_k (0 or >= V: all); if the top key is not finite, return it;
//           3. prob_i = exp((key_i - top) * (1 / temperature)), the argument in float exactly as the
//              CPU computes it, the exponential as float(exp(double)) (correctly rounded except in
//              rare ties, like glibc's expf);
//           4. top-p: if top_p < 1, keep the shortest prefix whose cumulative mass reaches
//              top_p * (mass of the k kept);
//           5. u = sample_uniform(seed, seq, step); r = u * kept mass; return the first kept token
//              whose cumulative mass exceeds r (the last kept token if rounding leaves none).
// Cumulative sums are fp64 block scans in chunks (the CPU adds sequentially): the two can differ in
// the last bits of a double, which changes a token only if u lands within ~1e-16 of a boundary.
// The sort buffers live in the per-device scratch (ops/cuda_context.cuh); rows are processed in
// groups that fit it.
#include <cub/block/block_scan.cuh>
#include <cub/device/device_segmented_sort.cuh>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <string>

#include "ops/cuda.h"
#include "ops/cuda_common.cuh"
#include "ops/cuda_context.cuh"

namespace ferry::ops::cuda {
namespace {

// ---- greedy --------------------------------------------------------------------------------------

constexpr int kArgmaxThreads = 512;

// (v, i) beats (w, j): larger value, or the same value and a lower index. Index INT_MAX = none yet.
__device__ __forceinline__ bool beats(float v, int i, float w, int j) { return v > w || (v == w && i < j); }

// logits[B, V] f32, out_ids[B] i32.
__global__ void __launch_bounds__(kArgmaxThreads)
    argmax_kernel(const float* __restrict__ logits, int V, std::int32_t* __restrict__ out_ids) {
  __shared__ float s_val[kArgmaxThreads / kWarp];
  __shared__ int s_idx[kArgmaxThreads / kWarp];
  const float* z = logits + static_cast<std::int64_t>(blockIdx.x) * V;
  // Strict '>' from -inf: NaN and -inf never become the best, and a thread's lowest index wins ties.
  float best = -INFINITY;
  int best_i = INT_MAX;
  for (int i = threadIdx.x; i < V; i += blockDim.x) {
    const float v = z[i];
    if (v > best) {
      best = v;
      best_i = i;
    }
  }
#pragma unroll
  for (int o = kWarp / 2; o > 0; o >>= 1) {
    const float w = __shfl_xor_sync(0xffffffffu, best, o);
    const int j = __shfl_xor_sync(0xffffffffu, best_i, o);
    if (beats(w, j, best, best_i)) {
      best = w;
      best_i = j;
    }
  }
  const int lane = threadIdx.x % kWarp;
  const int warp = threadIdx.x / kWarp;
  if (lane == 0) {
    s_val[warp] = best;
    s_idx[warp] = best_i;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < static_cast<int>(blockDim.x / kWarp); ++w)
      if (beats(s_val[w], s_idx[w], best, best_i)) {
        best = s_val[w];
        best_i = s_idx[w];
      }
    out_ids[blockIdx.x] = best_i == INT_MAX ? 0 : best_i;  // nothing above -inf: index 0, as on the CPU
  }
}

// ---- stochastic ----------------------------------------------------------------------------------

// Sort input for rows [b0, b0 + G): keys[g, i] = logit (NaN -> -inf, -0 -> +0), vals[g, i] = i,
// offsets[g] = g * V (g = 0..G). logits[B, V] f32; keys/vals [G, V]; offsets [G+1].
__global__ void sort_input_kernel(const float* __restrict__ logits, std::int64_t b0, int V, int G,
                                  float* __restrict__ keys, std::int32_t* __restrict__ vals,
                                  std::int64_t* __restrict__ offsets) {
  const int g = blockIdx.x;
  const float* z = logits + (b0 + g) * static_cast<std::int64_t>(V);
  float* k = keys + static_cast<std::int64_t>(g) * V;
  std::int32_t* v = vals + static_cast<std::int64_t>(g) * V;
  for (int i = threadIdx.x; i < V; i += blockDim.x) {
    float x = z[i];
    if (isnan(x)) x = -INFINITY;
    if (x == 0.0f) x = 0.0f;
    k[i] = x;
    v[i] = i;
  }
  if (threadIdx.x == 0) {
    offsets[g] = static_cast<std::int64_t>(g) * V;
    if (g == G - 1) offsets[G] = static_cast<std::int64_t>(G) * V;
  }
}

constexpr int kSelectThreads = 512;
using BlockScan = cub::BlockScan<double, kSelectThreads>;

struct SelectShared {
  typename BlockScan::TempStorage scan;
  double carry;
  double found_cum;
  int found;
};

// Walks prob[0, n) in chunks of kSelectThreads with cum_i = (cum at the end of the previous chunk)
// + (inclusive scan within the chunk). Returns the first i with pred(cum_i), setting *cum_at to
// cum_i, or -1 with *cum_at = cum_{n-1}. The arithmetic is the same for every call over the same
// prob and chunking, so cum_i does not depend on n or pred. Call from all threads (block-uniform).
template <class Pred>
__device__ int scan_find(const float* prob, int n, Pred pred, double* cum_at, SelectShared& sh) {
  double carry = 0.0;
  for (int c0 = 0; c0 < n; c0 += kSelectThreads) {
    const int i = c0 + static_cast<int>(threadIdx.x);
    const double p = i < n ? static_cast<double>(prob[i]) : 0.0;
    double incl = 0.0;
    BlockScan(sh.scan).InclusiveSum(p, incl);
    const double cum = carry + incl;
    if (threadIdx.x == 0) sh.found = INT_MAX;
    __syncthreads();
    if (i < n && pred(cum)) atomicMin(&sh.found, i);
    if (i == min(n, c0 + kSelectThreads) - 1) sh.carry = cum;
    __syncthreads();
    const int f = sh.found;
    carry = sh.carry;
    if (f != INT_MAX) {
      if (i == f) sh.found_cum = cum;
      __syncthreads();
      *cum_at = sh.found_cum;
      return f;
    }
    __syncthreads();  // sh and the scan storage are reused by the next chunk
  }
  *cum_at = carry;
  return -1;
}

struct NeverFound {
  __device__ bool operator()(double) const { return false; }
};
struct ReachesTarget {
  double target;
  __device__ bool operator()(double cum) const { return cum >= target; }
};
struct Exceeds {
  double r;
  __device__ bool operator()(double cum) const { return r < cum; }
};

// One block per row g of the group (row b0 + g of the batch).
// sorted_keys/sorted_vals [G, V] (sorted), prob [G, V] (scratch: the unsorted keys, no longer needed),
// seq[B], step[B], out_ids[B] i32.
__global__ void __launch_bounds__(kSelectThreads)
    select_kernel(const float* __restrict__ sorted_keys, const std::int32_t* __restrict__ sorted_vals,
                  float* __restrict__ prob_all, std::int64_t b0, int V, int k, float inv_t, float top_p,
                  std::uint64_t seed, const std::int32_t* __restrict__ seq, const std::int32_t* __restrict__ step,
                  std::int32_t* __restrict__ out_ids) {
  __shared__ SelectShared sh;
  const int g = blockIdx.x;
  const std::int64_t b = b0 + g;
  const float* keys = sorted_keys + static_cast<std::int64_t>(g) * V;
  const std::int32_t* order = sorted_vals + static_cast<std::int64_t>(g) * V;
  float* prob = prob_all + static_cast<std::int64_t>(g) * V;

  const float top = keys[0];
  if (!isfinite(top)) {
    if (threadIdx.x == 0) out_ids[b] = order[0];
    return;
  }
  for (int i = threadIdx.x; i < k; i += blockDim.x)
    prob[i] = static_cast<float>(exp(static_cast<double>((keys[i] - top) * inv_t)));
  __syncthreads();

  double mass = 0.0;
  scan_find(prob, k, NeverFound{}, &mass, sh);
  int kept = k;
  if (top_p < 1.0f) {
    double cum = 0.0;
    const int f = scan_find(prob, k, ReachesTarget{static_cast<double>(top_p) * mass}, &cum, sh);
    if (f >= 0) {
      kept = f + 1;
      mass = cum;
    }
  }
  const double u = sample_uniform_dev(seed, seq[b], step[b]);
  double cum = 0.0;
  const int f = scan_find(prob, kept, Exceeds{u * mass}, &cum, sh);
  if (threadIdx.x == 0) out_ids[b] = order[f >= 0 ? f : kept - 1];
}

constexpr std::size_t align256(std::size_t v) { return (v + 255) / 256 * 256; }

// Scratch layout for G rows: offsets[G+1] i64 | keys_in[G, V] | keys_out[G, V] | vals_in[G, V] |
// vals_out[G, V] | CUB temp storage.
struct SortLayout {
  std::size_t offsets = 0, keys_in = 0, keys_out = 0, vals_in = 0, vals_out = 0, temp = 0, temp_bytes = 0, end = 0;
};

SortLayout sort_layout(std::int64_t G, std::int64_t V, cudaStream_t s) {
  SortLayout L;
  const std::size_t n = static_cast<std::size_t>(G * V);
  L.offsets = 0;
  L.keys_in = align256(sizeof(std::int64_t) * static_cast<std::size_t>(G + 1));
  L.keys_out = L.keys_in + align256(sizeof(float) * n);
  L.vals_in = L.keys_out + align256(sizeof(float) * n);
  L.vals_out = L.vals_in + align256(sizeof(std::int32_t) * n);
  L.temp = L.vals_out + align256(sizeof(std::int32_t) * n);
  // Size query only (null temp storage): nothing is read or launched.
  FERRY_CUDA(cub::DeviceSegmentedSort::StableSortPairsDescending(
      nullptr, L.temp_bytes, static_cast<const float*>(nullptr), static_cast<float*>(nullptr),
      static_cast<const std::int32_t*>(nullptr), static_cast<std::int32_t*>(nullptr), G * V, G,
      static_cast<std::int64_t*>(nullptr), static_cast<std::int64_t*>(nullptr), s));
  L.end = L.temp + align256(L.temp_bytes);
  return L;
}

}  // namespace

void sample(void* stream, TensorView logits, const SamplingParams& p, TensorView seq, TensorView step,
            TensorView out_ids) {
  const char* op = "sample";
  require_dtype(logits, DType::F32, op, "logits");
  require_dtype(seq, DType::I32, op, "seq");
  require_dtype(step, DType::I32, op, "step");
  require_dtype(out_ids, DType::I32, op, "out_ids");
  require_shape(logits.shape.rank == 2, op, "logits[B, V]");
  const std::int64_t B = logits.dim(0);
  const std::int64_t V = logits.dim(1);
  require_shape(seq.numel() == B && step.numel() == B && out_ids.numel() == B, op, "seq[B], step[B], out_ids[B]");
  require_shape(V < INT_MAX && B < INT_MAX, op, "B, V fit an int");
  if (B == 0) return;
  require_shape(V >= 1, op, "V >= 1");

  cudaStream_t s = as_stream(stream);
  DeviceGuard guard(s);
  if (p.greedy) {
    argmax_kernel<<<static_cast<unsigned>(B), kArgmaxThreads, 0, s>>>(logits.as<const float>(), static_cast<int>(V),
                                                                        out_ids.as<std::int32_t>());
    FERRY_CUDA_LAUNCHED("argmax_kernel");
    return;
  }
  if (!(p.temperature > 0.0f)) throw InternalError("sample: temperature must be > 0");

  // Rows per group: as many as the scratch holds (16 bytes per logit plus CUB's temp storage).
  const auto fit = static_cast<std::int64_t>(kScratchBytes / static_cast<std::size_t>(16 * V + 64));
  std::int64_t G = std::max<std::int64_t>(1, std::min<std::int64_t>(B, fit));
  while (G > 1 && sort_layout(G, V, s).end > kScratchBytes) G = G * 3 / 4;
  if (sort_layout(G, V, s).end > kScratchBytes)
    throw InternalError("sample: vocabulary of " + std::to_string(V) + " does not fit the sampling scratch");

  ContextLease ctx(guard.device(), s);
  auto* scratch = static_cast<char*>(ctx.scratch());
  const int k = (p.top_k > 0 && p.top_k < V) ? p.top_k : static_cast<int>(V);
  const float inv_t = 1.0f / p.temperature;  // as the CPU computes it
  for (std::int64_t b0 = 0; b0 < B; b0 += G) {
    const std::int64_t g = std::min(G, B - b0);
    const SortLayout L = sort_layout(g, V, s);
    auto* offsets = reinterpret_cast<std::int64_t*>(scratch + L.offsets);
    auto* keys_in = reinterpret_cast<float*>(scratch + L.keys_in);
    auto* keys_out = reinterpret_cast<float*>(scratch + L.keys_out);
    auto* vals_in = reinterpret_cast<std::int32_t*>(scratch + L.vals_in);
    auto* vals_out = reinterpret_cast<std::int32_t*>(scratch + L.vals_out);
    sort_input_kernel<<<static_cast<unsigned>(g), 256, 0, s>>>(logits.as<const float>(), b0, static_cast<int>(V),
                                                                static_cast<int>(g), keys_in, vals_in, offsets);
    FERRY_CUDA_LAUNCHED("sort_input_kernel");
    std::size_t temp_bytes = L.temp_bytes;
    FERRY_CUDA(cub::DeviceSegmentedSort::StableSortPairsDescending(
        scratch + L.temp, temp_bytes, keys_in, keys_out, vals_in, vals_out, g * V, g, offsets, offsets + 1, s));
    select_kernel<<<static_cast<unsigned>(g), kSelectThreads, 0, s>>>(
        keys_out, vals_out, keys_in, b0, static_cast<int>(V), k, inv_t, p.top_p, p.seed, seq.as<const std::int32_t>(),
        step.as<const std::int32_t>(), out_ids.as<std::int32_t>());
    FERRY_CUDA_LAUNCHED("select_kernel");
  }
  ctx.finish();
}

}  // namespace ferry::ops::cuda
