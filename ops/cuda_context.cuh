// Per-device state of the CUDA ops: one cuBLASLt handle, one cuBLASLt workspace, one scratch buffer
// (operand conversions in linear, sort buffers in sample) and a cache of cuBLASLt algorithms.
//
// This is the ONE place in ops/ that allocates device memory: kLtWorkspaceBytes + kScratchBytes per
// device, allocated on the first launcher call that needs them (under a mutex) and kept for the
// life of the process. It is deliberately never freed: device memory goes with the process, and
// destroying cuBLASLt handles from static destructors races the CUDA runtime's own teardown.
//
// Use from a launcher: `ContextLease ctx(device, stream);` gives the calling launcher exclusive use
// of the buffers. The lease makes `stream` wait until every earlier user of the buffers (possibly on
// another stream) is done, and `ctx.finish()` marks the end of this stream's use; so concurrent
// launchers on different streams of one device are serialized on the buffers, never racing.
#pragma once
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>

namespace ferry::ops::cuda {

// Throws InternalError naming the call (ResourceExhausted for CUBLAS_STATUS_ALLOC_FAILED).
void cublas_check(cublasStatus_t status, const char* call, const char* file, int line);
#define FERRY_CUBLAS(call) ::ferry::ops::cuda::cublas_check((call), #call, __FILE__, __LINE__)

constexpr std::size_t kLtWorkspaceBytes = std::size_t{32} << 20;  // NVIDIA recommends 32 MiB on Hopper
constexpr std::size_t kScratchBytes = std::size_t{32} << 20;

// Everything that determines cublasLtMatmulAlgoGetHeuristic's answer for one linear() call.
using MatmulKey = std::array<std::int64_t, 16>;

struct DeviceContext;  // defined in cuda_context.cu

class ContextLease {
 public:
  // Creates the device's context on first use; `device` must be current (DeviceGuard).
  ContextLease(int device, cudaStream_t stream);
  ~ContextLease();  // records the end of use if finish() was not reached (exception path)
  ContextLease(const ContextLease&) = delete;
  ContextLease& operator=(const ContextLease&) = delete;

  cublasLtHandle_t lt() const;
  void* lt_workspace() const;  // [kLtWorkspaceBytes], 256-byte aligned
  void* scratch() const;       // [kScratchBytes], 256-byte aligned

  // Algorithm cache (only touched while the lease is held).
  bool find_algo(const MatmulKey& key, cublasLtMatmulAlgo_t* algo) const;
  void store_algo(const MatmulKey& key, const cublasLtMatmulAlgo_t& algo);

  // Call after the last enqueue that uses the buffers: later users wait for this point.
  void finish();

 private:
  DeviceContext* ctx_;
  std::unique_lock<std::mutex> lock_;
  cudaStream_t stream_;
  bool finished_ = false;
};

}  // namespace ferry::ops::cuda
