#include "base/backend.h"

#include "base/cpu_backend.h"
#include "base/error.h"

#ifdef FERRY_HAVE_CUDA
#include "base/cuda_backend.h"
#endif

namespace ferry {

bool cuda_compiled() {
#ifdef FERRY_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

int cuda_device_count() {
#ifdef FERRY_HAVE_CUDA
  return cuda_runtime_device_count();
#else
  return 0;
#endif
}

std::unique_ptr<Backend> make_backend(DeviceKind kind, int device_index, int threads) {
  if (kind == DeviceKind::CPU) return std::make_unique<CpuBackend>(threads);
#ifdef FERRY_HAVE_CUDA
  if (cuda_runtime_device_count() <= device_index)
    throw ResourceExhausted("--device cuda: no CUDA device " + std::to_string(device_index) +
                            " (found " + std::to_string(cuda_runtime_device_count()) + ")");
  return make_cuda_backend(device_index);
#else
  (void)device_index;
  throw BadInput("--device cuda: this ferry was built without CUDA (rebuild with nvcc present)");
#endif
}

}  // namespace ferry
