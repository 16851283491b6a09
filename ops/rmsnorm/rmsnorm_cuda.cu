// CUDA fused residual add + RMSNorm (Zhang & Sennrich 2019), one block per row, in fp32 as LLaMA
// computes it:
//   residual += delta_scale * delta (when present); out = residual * rsqrt(mean(residual^2) + eps) * gamma.
// The mean square is one block reduction (warp shuffles, then across warps). The add is rounded as
// the CPU and the reference round it (product, then sum, no fused multiply-add), so the residual
// stream stays bit-identical across backends.
#include <algorithm>
#include <cstdint>

#include "ops/cuda.h"
#include "ops/cuda_common.cuh"

namespace ferry::ops::cuda {
namespace {

// residual[T, H] f32 (in/out), delta[T, H] f32 or null, gamma[H] of type W, out[T, H] f32.
// No __restrict__ on residual/delta/out: callers may alias them (every element is read and written
// by the same thread, so aliasing is safe).
template <class W>
__global__ void add_rmsnorm_kernel(float* residual, const float* delta, float delta_scale,
                                   const W* __restrict__ gamma, float eps, float* out, int H) {
  __shared__ float smem[kWarp];
  const std::int64_t row = blockIdx.x;
  float* r = residual + row * H;
  float* o = out + row * H;

  float sq = 0.0f;
  if (delta != nullptr) {
    const float* d = delta + row * H;
    for (int i = threadIdx.x; i < H; i += blockDim.x) {
      const float v = __fadd_rn(r[i], __fmul_rn(delta_scale, d[i]));  // no FMA: as the CPU rounds it
      r[i] = v;  // each thread re-reads only the elements it wrote itself
      sq = fmaf(v, v, sq);
    }
  } else {
    for (int i = threadIdx.x; i < H; i += blockDim.x) {
      const float v = r[i];
      sq = fmaf(v, v, sq);
    }
  }
  const float ms = block_sum(sq, smem) / static_cast<float>(H);
  const float rstd = 1.0f / sqrtf(ms + eps);

  for (int i = threadIdx.x; i < H; i += blockDim.x) o[i] = r[i] * rstd * to_f32(gamma[i]);
}

}  // namespace

void add_rmsnorm(void* stream, TensorView residual, TensorView delta, float delta_scale, TensorView gamma, float eps,
                 TensorView out) {
  const char* op = "add_rmsnorm";
  require_dtype(residual, DType::F32, op, "residual");
  require_dtype(out, DType::F32, op, "out");
  if (delta.present()) require_dtype(delta, DType::F32, op, "delta");
  require_shape(residual.shape.rank == 2, op, "residual[T, H]");
  const std::int64_t T = residual.dim(0);
  const std::int64_t H = residual.dim(1);
  require_shape(out.shape == residual.shape, op, "out[T, H]");
  require_shape(!delta.present() || delta.shape == residual.shape, op, "delta[T, H]");
  require_shape(gamma.numel() == H, op, "gamma[H]");
  require_shape(H <= (std::int64_t{1} << 30) && T < (std::int64_t{1} << 31), op, "T and H fit an int");
  if (T == 0 || H == 0) return;

  cudaStream_t s = as_stream(stream);
  DeviceGuard guard(s);
  // About 8 elements per thread, a whole number of warps, 64..1024 threads (as add_layernorm).
  const int threads = static_cast<int>(std::clamp<std::int64_t>((H / 8 + kWarp - 1) / kWarp * kWarp, 64, 1024));
  dispatch_float(gamma.dtype, op, "gamma", [&](auto tag) {
    using W = decltype(tag);
    add_rmsnorm_kernel<W><<<static_cast<unsigned>(T), threads, 0, s>>>(
        residual.as<float>(), delta.present() ? delta.as<const float>() : nullptr, delta_scale, gamma.as<const W>(),
        eps, out.as<float>(), static_cast<int>(H));
    FERRY_CUDA_LAUNCHED("add_rmsnorm_kernel");
  });
}

}  // namespace ferry::ops::cuda
