// CUDA SwiGLU (Shazeer, "GLU Variants Improve Transformer", 2020) on the fused gate_up GEMM output:
// out[t, j] = silu(gate_up[t, j]) * gate_up[t, F + j], silu(x) = x / (1 + exp(-x)), f32. A
// grid-stride loop over the T*F outputs, one per thread per iteration.
#include <algorithm>
#include <cstdint>

#include "ops/cuda.h"
#include "ops/cuda_common.cuh"

namespace ferry::ops::cuda {
namespace {

// gate_up[T, 2F] f32, out[T, F] f32; n = T*F.
__global__ void swiglu_kernel(const float* __restrict__ gate_up, float* __restrict__ out, std::int64_t F,
                              std::int64_t n) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t t = i / F;
    const std::int64_t j = i - t * F;
    const float* row = gate_up + t * 2 * F;
    const float g = row[j];
    // expf (not __expf): exp(-g) overflows to inf for g < -88 and g / inf = -0, the limit of silu.
    out[i] = g / (1.0f + expf(-g)) * row[F + j];
  }
}

}  // namespace

void swiglu(void* stream, TensorView gate_up, TensorView out) {
  const char* op = "swiglu";
  require_dtype(gate_up, DType::F32, op, "gate_up");
  require_dtype(out, DType::F32, op, "out");
  require_shape(gate_up.shape.rank == 2 && out.shape.rank == 2, op, "gate_up[T, 2F], out[T, F]");
  const std::int64_t T = out.dim(0);
  const std::int64_t F = out.dim(1);
  require_shape(gate_up.dim(0) == T && gate_up.dim(1) == 2 * F, op, "gate_up[T, 2F]");
  const std::int64_t n = T * F;
  if (n == 0) return;
  cudaStream_t s = as_stream(stream);
  DeviceGuard guard(s);
  constexpr int kThreads = 256;
  const unsigned blocks = static_cast<unsigned>(std::min<std::int64_t>(grid_1d(n, kThreads), 65535));
  swiglu_kernel<<<blocks, kThreads, 0, s>>>(gate_up.as<const float>(), out.as<float>(), F, n);
  FERRY_CUDA_LAUNCHED("swiglu_kernel");
}

}  // namespace ferry::ops::cuda
