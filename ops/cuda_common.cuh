// Shared helpers of the CUDA ops (ops/<op>/<op>_cuda.cu): element conversions, warp and block
// reductions, the device copy of the sampling RNG, dtype dispatch, launch checks and a guard that
// makes the stream's device current for the duration of a launcher.
// Included only by .cu files (C++17, see the top-level CMakeLists.txt).
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "base/cuda_backend.h"
#include "base/error.h"
#include "base/tensor.h"
#include "ops/sampling/uniform_hash.h"

namespace ferry::ops::cuda {

// ---- element types -------------------------------------------------------------------------------

__device__ __forceinline__ float to_f32(float x) { return x; }
__device__ __forceinline__ float to_f32(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_f32(__nv_bfloat16 x) { return __bfloat162float(x); }

template <class T>
__device__ __forceinline__ T from_f32(float x);
template <>
__device__ __forceinline__ float from_f32<float>(float x) {
  return x;
}
template <>
__device__ __forceinline__ __half from_f32<__half>(float x) {
  return __float2half_rn(x);
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}

// ---- reductions ----------------------------------------------------------------------------------

constexpr int kWarp = 32;

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = kWarp / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = kWarp / 2; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum over the block; every thread gets the result. blockDim.x must be a multiple of 32 (<= 1024);
// `smem` holds 32 floats. Contains __syncthreads(): call from all threads of the block.
__device__ __forceinline__ float block_sum(float v, float* smem) {
  const int lane = threadIdx.x % kWarp;
  const int warp = threadIdx.x / kWarp;
  const int n_warps = blockDim.x / kWarp;
  v = warp_sum(v);
  __syncthreads();  // smem may still be read by a previous call
  if (lane == 0) smem[warp] = v;
  __syncthreads();
  v = lane < n_warps ? smem[lane] : 0.0f;
  return warp_sum(v);
}

// ---- sampling RNG --------------------------------------------------------------------------------

// The uniform [0, 1) draw of sample() for (seed, seq, step) on the device. It calls the very same
// constexpr code as the host's ferry::ops::sample_uniform (ops/sampling/uniform_hash.h: splitmix64
// of the seed, xor the counter (u32(seq) << 32 | u32(step)), splitmix64 again, top 53 bits / 2^53;
// callable here through nvcc's --expt-relaxed-constexpr), so the two cannot drift apart. If that
// header ever stops being usable on the device, a copy here MUST STAY IDENTICAL to the host version.
__host__ __device__ __forceinline__ double sample_uniform_dev(std::uint64_t seed, std::int32_t seq,
                                                              std::int32_t step) {
  return ::ferry::ops::detail::uniform_from_counter(seed, seq, step);
}

// ---- host side -----------------------------------------------------------------------------------

inline cudaStream_t as_stream(void* s) { return static_cast<cudaStream_t>(s); }

// Throws InternalError naming `kernel` when its launch failed (bad configuration, no device code
// for this architecture, ...). Errors raised while the kernel runs surface at the next sync.
inline void check_launch(const char* kernel, const char* file, int line) {
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) {
    const std::string call = std::string("launch of ") + kernel;
    ::ferry::cuda_check(static_cast<int>(err), call.c_str(), file, line);
  }
}
#define FERRY_CUDA_LAUNCHED(kernel) ::ferry::ops::cuda::check_launch(kernel, __FILE__, __LINE__)

// Makes the stream's device current for a launcher and restores the previous device after it
// (kernels must be launched on the device that owns the stream).
class DeviceGuard {
 public:
  explicit DeviceGuard(cudaStream_t stream) {
    FERRY_CUDA(cudaGetDevice(&previous_));
    FERRY_CUDA(cudaStreamGetDevice(stream, &device_));
    if (device_ != previous_) FERRY_CUDA(cudaSetDevice(device_));
  }
  ~DeviceGuard() {
    if (device_ != previous_) cudaSetDevice(previous_);  // warn-free best effort: never throws
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;
  int device() const { return device_; }

 private:
  int previous_ = 0;
  int device_ = 0;
};

// Calls f(T{}) with T the element type of a floating-point tensor (float, __half, __nv_bfloat16);
// any other dtype is a caller bug (InternalError naming the op and operand).
template <class F>
void dispatch_float(DType t, const char* op, const char* operand, F&& f) {
  switch (t) {
    case DType::F32:
      f(float{});
      return;
    case DType::F16:
      f(__half{});
      return;
    case DType::BF16:
      f(__nv_bfloat16{});
      return;
    default:
      break;
  }
  throw InternalError(std::string(op) + ": unsupported dtype " + dtype_name(t) + " for " + operand +
                      " on CUDA");
}

// Operand checks shared by the launchers (InternalError: the caller broke the contract of ops.h).
inline void require_dtype(const TensorView& t, DType want, const char* op, const char* operand) {
  if (t.dtype != want)
    throw InternalError(std::string(op) + ": " + operand + " must be " + dtype_name(want) + ", got " +
                        dtype_name(t.dtype));
}
inline void require_shape(bool ok, const char* op, const char* what) {
  if (!ok) throw InternalError(std::string(op) + ": bad shape: " + what);
}

inline unsigned grid_1d(std::int64_t n, int threads) {
  return static_cast<unsigned>((n + threads - 1) / threads);
}

}  // namespace ferry::ops::cuda
