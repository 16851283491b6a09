// CUDA scale (f32): x *= factor in place. A grid-stride loop, one element per thread per iteration.
#include <algorithm>
#include <cstdint>

#include "ops/cuda.h"
#include "ops/cuda_common.cuh"

namespace ferry::ops::cuda {
namespace {

// x[n] f32 (in/out).
__global__ void scale_kernel(float* __restrict__ x, float factor, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
    x[i] *= factor;
}

}  // namespace

void scale(void* stream, TensorView x, float factor) {
  require_dtype(x, DType::F32, "scale", "x");
  const std::int64_t n = x.numel();
  if (n == 0) return;
  cudaStream_t s = as_stream(stream);
  DeviceGuard guard(s);
  constexpr int kThreads = 256;
  const unsigned blocks = static_cast<unsigned>(std::min<std::int64_t>(grid_1d(n, kThreads), 65535));
  scale_kernel<<<blocks, kThreads, 0, s>>>(x.as<float>(), factor, n);
  FERRY_CUDA_LAUNCHED("scale_kernel");
}

}  // namespace ferry::ops::cuda
