// Internal: the CUDA half of Buffer (buffer_cuda.cu, built only when FERRY_HAVE_CUDA).
// Kept free of CUDA types so buffer.cpp can call it from a host-only translation unit.
#pragma once
#include <cstddef>

#include "memory/buffer.h"

namespace ferry {

// Pinned = cudaMallocHost, Device = cudaMalloc, Managed = cudaMallocManaged. Not for Host.
// Throws ResourceExhausted naming kind and size when the allocation fails.
void* cuda_buffer_alloc(BufferKind kind, std::size_t bytes);
// Frees memory from cuda_buffer_alloc; never throws (errors are ignored: destructors never throw).
void cuda_buffer_free(BufferKind kind, void* p) noexcept;

}  // namespace ferry
