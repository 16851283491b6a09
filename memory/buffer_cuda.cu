// The CUDA half of Buffer: pinned host, device and managed allocations.
#include <cuda_runtime.h>

#include <string>

#include "base/cuda_backend.h"
#include "base/error.h"
#include "base/units.h"
#include "memory/buffer_cuda.h"

namespace ferry {

void* cuda_buffer_alloc(BufferKind kind, std::size_t bytes) {
  void* p = nullptr;
  cudaError_t r = cudaSuccess;
  switch (kind) {
    case BufferKind::Pinned: r = cudaMallocHost(&p, bytes); break;
    case BufferKind::Device: r = cudaMalloc(&p, bytes); break;
    case BufferKind::Managed: r = cudaMallocManaged(&p, bytes, cudaMemAttachGlobal); break;
    case BufferKind::Host: throw InternalError("cuda_buffer_alloc: Host buffers are plain RAM");
  }
  if (r == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // clear it: an allocation failure is not sticky
    throw ResourceExhausted(std::string("cannot allocate ") + format_bytes(bytes) + " of " +
                            buffer_kind_name(kind) + " memory on the CUDA device");
  }
  FERRY_CUDA(r);
  return p;
}

void cuda_buffer_free(BufferKind kind, void* p) noexcept {
  if (!p) return;
  switch (kind) {
    case BufferKind::Pinned: cudaFreeHost(p); break;
    case BufferKind::Device:
    case BufferKind::Managed: cudaFree(p); break;
    case BufferKind::Host: break;
  }
}

}  // namespace ferry
