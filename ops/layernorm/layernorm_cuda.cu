// CUDA fused residual add + LayerNorm (Ba, Kiros, Hinton 2016), one block per row:
//   residual += delta (when present); out = (residual - mean) / sqrt(var + eps) * gamma + beta.
// Mean and the biased variance are two block reductions (warp shuffles, then across warps); the
// variance is taken around the mean (two passes over the row), which is exact for large offsets.
#include <algorithm>
#include <cstdint>

#include "ops/cuda.h"
#include "ops/cuda_common.cuh"

namespace ferry::ops::cuda {
namespace {

// residual[T, H] f32 (in/out), delta[T, H] f32 or null, gamma[H], beta[H], out[T, H] f32.
// No __restrict__ on residual/delta/out: callers may alias them (every element is read and written
// by the same thread, so aliasing is safe).
template <class W>
__global__ void add_layernorm_kernel(float* residual, const float* delta, const W* __restrict__ gamma,
                                     const W* __restrict__ beta, float eps, float* out, int H) {
  __shared__ float smem[kWarp];
  const std::int64_t row = blockIdx.x;
  float* r = residual + row * H;
  float* o = out + row * H;

  float sum = 0.0f;
  if (delta != nullptr) {
    const float* d = delta + row * H;
    for (int i = threadIdx.x; i < H; i += blockDim.x) {
      const float v = r[i] + d[i];
      r[i] = v;  // each thread re-reads only the elements it wrote itself
      sum += v;
    }
  } else {
    for (int i = threadIdx.x; i < H; i += blockDim.x) sum += r[i];
  }
  const float mean = block_sum(sum, smem) / static_cast<float>(H);

  float sq = 0.0f;
  for (int i = threadIdx.x; i < H; i += blockDim.x) {
    const float c = r[i] - mean;
    sq += c * c;
  }
  const float var = block_sum(sq, smem) / static_cast<float>(H);
  const float inv = 1.0f / sqrtf(var + eps);

  for (int i = threadIdx.x; i < H; i += blockDim.x)
    o[i] = (r[i] - mean) * inv * to_f32(gamma[i]) + to_f32(beta[i]);
}

}  // namespace

void add_layernorm(void* stream, TensorView residual, TensorView delta, TensorView gamma, TensorView beta,
                   float eps, TensorView out) {
  const char* op = "add_layernorm";
  require_dtype(residual, DType::F32, op, "residual");
  require_dtype(out, DType::F32, op, "out");
  if (delta.present()) require_dtype(delta, DType::F32, op, "delta");
  if (gamma.dtype != beta.dtype) throw InternalError("add_layernorm: gamma and beta must have one dtype");
  require_shape(residual.shape.rank == 2, op, "residual[T, H]");
  const std::int64_t T = residual.dim(0);
  const std::int64_t H = residual.dim(1);
  require_shape(out.shape == residual.shape, op, "out[T, H]");
  require_shape(!delta.present() || delta.shape == residual.shape, op, "delta[T, H]");
  require_shape(gamma.numel() == H && beta.numel() == H, op, "gamma[H], beta[H]");
  require_shape(H <= (std::int64_t{1} << 30), op, "H fits an int");
  if (T == 0 || H == 0) return;

  cudaStream_t s = as_stream(stream);
  DeviceGuard guard(s);
  // About 8 elements per thread, a whole number of warps, 64..1024 threads.
  const int threads = static_cast<int>(std::clamp<std::int64_t>((H / 8 + kWarp - 1) / kWarp * kWarp, 64, 1024));
  dispatch_float(gamma.dtype, op, "gamma", [&](auto tag) {
    using W = decltype(tag);
    add_layernorm_kernel<W><<<static_cast<unsigned>(T), threads, 0, s>>>(
        residual.as<float>(), delta.present() ? delta.as<const float>() : nullptr, gamma.as<const W>(),
        beta.as<const W>(), eps, out.as<float>(), static_cast<int>(H));
    FERRY_CUDA_LAUNCHED("add_layernorm_kernel");
  });
}

}  // namespace ferry::ops::cuda
