// CUDA backend entry points. The classes live in cuda_backend.cu so this header stays free of CUDA
// types and can be included by host-only translation units.
#pragma once
#include <memory>
#include <string>

#include "base/backend.h"

namespace ferry {

int cuda_runtime_device_count();  // 0 when no driver or device
std::unique_ptr<Backend> make_cuda_backend(int device_index);

// Throws InternalError (ResourceExhausted for cudaErrorMemoryAllocation) naming the call.
void cuda_check(int status, const char* call, const char* file, int line);
#define FERRY_CUDA(call) ::ferry::cuda_check(static_cast<int>(call), #call, __FILE__, __LINE__)

}  // namespace ferry
