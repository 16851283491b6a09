// CUDA elementwise add (f32): x += y, the unfused residual add. A grid-stride loop, one element per
// thread per iteration.
#include <algorithm>
#include <cstdint>

#include "ops/cuda.h"
#include "ops/cuda_common.cuh"

namespace ferry::ops::cuda {
namespace {

// x[n] f32 (in/out), y[n] f32.
__global__ void add_kernel(float* __restrict__ x, const float* __restrict__ y, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
    x[i] += y[i];
}

}  // namespace

void add(void* stream, TensorView x, TensorView y) {
  const char* op = "add";
  require_dtype(x, DType::F32, op, "x");
  require_dtype(y, DType::F32, op, "y");
  require_shape(x.shape == y.shape, op, "y must have the shape of x");
  const std::int64_t n = x.numel();
  if (n == 0) return;
  cudaStream_t s = as_stream(stream);
  DeviceGuard guard(s);
  constexpr int kThreads = 256;
  const unsigned blocks = static_cast<unsigned>(std::min<std::int64_t>(grid_1d(n, kThreads), 65535));
  add_kernel<<<blocks, kThreads, 0, s>>>(x.as<float>(), y.as<const float>(), n);
  FERRY_CUDA_LAUNCHED("add_kernel");
}

}  // namespace ferry::ops::cuda
