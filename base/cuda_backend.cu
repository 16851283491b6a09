// CUDA backend: streams, events with device-side timing, async copies, host callbacks.
#include <cuda_runtime.h>

#include <functional>
#include <string>

#include "base/cuda_backend.h"
#include "base/error.h"

namespace ferry {

void cuda_check(int status, const char* call, const char* file, int line) {
  if (status == cudaSuccess) return;
  const auto err = static_cast<cudaError_t>(status);
  std::string msg = std::string(call) + " failed: " + cudaGetErrorName(err) + " (" +
                    cudaGetErrorString(err) + ") at " + file + ":" + std::to_string(line);
  if (err == cudaErrorMemoryAllocation) throw ResourceExhausted(msg);
  throw InternalError(msg);
}

int cuda_runtime_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky-free error so later calls are not confused
    return 0;
  }
  return n;
}

namespace {

class CudaStream final : public Stream {
 public:
  CudaStream(int id, int device) : id_(id), device_(device) {
    FERRY_CUDA(cudaSetDevice(device_));
    FERRY_CUDA(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking));
  }
  ~CudaStream() override {
    if (s_) cudaStreamDestroy(s_);  // warn-only: destructors never throw
  }
  DeviceKind device() const override { return DeviceKind::CUDA; }
  int id() const override { return id_; }
  void synchronize() override { FERRY_CUDA(cudaStreamSynchronize(s_)); }
  void* native_handle() override { return s_; }

 private:
  int id_;
  int device_;
  cudaStream_t s_ = nullptr;
};

cudaStream_t raw(Stream& s) {
  FERRY_CHECK(s.device() == DeviceKind::CUDA, "CUDA backend given a non-CUDA stream");
  return static_cast<cudaStream_t>(s.native_handle());
}

class CudaEvent final : public Event {
 public:
  explicit CudaEvent(bool timing) {
    FERRY_CUDA(cudaEventCreateWithFlags(&e_, timing ? cudaEventDefault : cudaEventDisableTiming));
  }
  ~CudaEvent() override {
    if (e_) cudaEventDestroy(e_);
  }
  void record(Stream& s) override { FERRY_CUDA(cudaEventRecord(e_, raw(s))); }
  void wait_on(Stream& s) override { FERRY_CUDA(cudaStreamWaitEvent(raw(s), e_, 0)); }
  void synchronize() override { FERRY_CUDA(cudaEventSynchronize(e_)); }
  bool query() override {
    const cudaError_t r = cudaEventQuery(e_);
    if (r == cudaErrorNotReady) return false;
    FERRY_CUDA(r);
    return true;
  }
  double elapsed_ms_since(Event& origin) override {
    auto* o = dynamic_cast<CudaEvent*>(&origin);
    FERRY_CHECK(o != nullptr, "elapsed_ms_since: events of different backends");
    float ms = 0.f;
    FERRY_CUDA(cudaEventElapsedTime(&ms, o->e_, e_));
    return ms;
  }

 private:
  cudaEvent_t e_ = nullptr;
};

void host_trampoline(void* p) {
  auto* fn = static_cast<std::function<void()>*>(p);
  try {
    (*fn)();
  } catch (...) {
    // A host callback cannot report errors through CUDA; callers keep their callbacks noexcept.
  }
  delete fn;
}

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device) : device_(device) {
    FERRY_CUDA(cudaSetDevice(device_));
    cudaDeviceProp prop{};
    FERRY_CUDA(cudaGetDeviceProperties(&prop, device_));
    name_ = prop.name;
  }
  DeviceKind kind() const override { return DeviceKind::CUDA; }
  std::string name() const override { return name_; }
  std::unique_ptr<Stream> create_stream(int id) override { return std::make_unique<CudaStream>(id, device_); }
  std::unique_ptr<Event> create_event(bool timing) override { return std::make_unique<CudaEvent>(timing); }
  void memcpy_async(void* dst, const void* src, std::size_t n, Stream& s) override {
    FERRY_CUDA(cudaMemcpyAsync(dst, src, n, cudaMemcpyDefault, raw(s)));
  }
  void host_callback(Stream& s, std::function<void()> fn) override {
    auto* heap = new std::function<void()>(std::move(fn));
    FERRY_CUDA(cudaLaunchHostFunc(raw(s), host_trampoline, heap));
  }
  DeviceMemoryInfo memory_info() const override {
    DeviceMemoryInfo info;
    FERRY_CUDA(cudaSetDevice(device_));
    FERRY_CUDA(cudaMemGetInfo(&info.free_bytes, &info.total_bytes));
    return info;
  }

 private:
  int device_;
  std::string name_;
};

}  // namespace

std::unique_ptr<Backend> make_cuda_backend(int device_index) { return std::make_unique<CudaBackend>(device_index); }

}  // namespace ferry
