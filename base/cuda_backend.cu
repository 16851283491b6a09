// CUDA backend: streams, events with device-side timing, async copies, host callbacks.
#include <cuda_runtime.h>

#include <atomic>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

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

// The first exception raised by a host callback of one stream. A callback runs on the driver's
// thread, where an exception escaping into CUDA would end the process: it is kept here instead and
// rethrown by the stream's synchronize(), and the stream's later callbacks are skipped until then
// (as a failed task poisons a CPU stream). Shared with the callbacks in flight, which may outlive
// the stream object.
struct CallbackErrors {
  std::atomic<bool> failed{false};
  std::mutex mu;
  std::exception_ptr first;

  void capture() noexcept {
    std::lock_guard<std::mutex> lk(mu);
    if (!first) first = std::current_exception();
    failed.store(true, std::memory_order_release);
  }
  std::exception_ptr take() {
    std::lock_guard<std::mutex> lk(mu);
    failed.store(false, std::memory_order_release);
    return std::exchange(first, nullptr);
  }
};

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
  // A host callback's error is the one reported when there is one: it is what stopped the work.
  void synchronize() override {
    const cudaError_t r = cudaStreamSynchronize(s_);
    if (std::exception_ptr e = errors_->take()) std::rethrow_exception(e);
    FERRY_CUDA(r);
  }
  void* native_handle() override { return s_; }
  const std::shared_ptr<CallbackErrors>& errors() const { return errors_; }

 private:
  int id_;
  int device_;
  cudaStream_t s_ = nullptr;
  std::shared_ptr<CallbackErrors> errors_ = std::make_shared<CallbackErrors>();
};

cudaStream_t raw(Stream& s) {
  FERRY_CHECK(s.device() == DeviceKind::CUDA, "CUDA backend given a non-CUDA stream");
  return static_cast<cudaStream_t>(s.native_handle());
}

CudaStream& cuda_stream(Stream& s) {
  auto* cs = dynamic_cast<CudaStream*>(&s);
  FERRY_CHECK(cs != nullptr, "CUDA backend given a stream it did not create");
  return *cs;
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

struct HostCall {
  std::function<void()> fn;
  std::shared_ptr<CallbackErrors> errors;
};

// Runs on the driver's callback thread: nothing may escape (CUDA would terminate the process).
void host_trampoline(void* p) noexcept {
  std::unique_ptr<HostCall> call(static_cast<HostCall*>(p));
  if (call->errors->failed.load(std::memory_order_acquire)) return;  // skipped after an error
  try {
    call->fn();
  } catch (...) {
    call->errors->capture();
  }
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
    CudaStream& cs = cuda_stream(s);
    auto call = std::make_unique<HostCall>(HostCall{std::move(fn), cs.errors()});
    FERRY_CUDA(cudaLaunchHostFunc(raw(s), host_trampoline, call.get()));
    call.release();  // the trampoline owns it now
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
