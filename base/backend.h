// The device interface that every layer above programs against. Two implementations:
// CpuBackend (base/cpu_backend.*) and CudaBackend (base/cuda_backend.*, built when CUDA is found).
//
// Semantics are CUDA's on both: a Stream executes its work in order, asynchronously to the host;
// an Event marks a point in a stream; another stream can wait on it without blocking the host.
// On the CPU a stream is an in-order task queue served by its own thread and an event is a
// completion flag with a timestamp, so the scheduler runs unchanged without a GPU.
#pragma once
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "base/tensor.h"

namespace ferry {

class Stream {
 public:
  virtual ~Stream() = default;
  virtual DeviceKind device() const = 0;
  virtual int id() const = 0;              // 0 = compute stream, 1.. = copy streams (by creation order)
  virtual void synchronize() = 0;          // host blocks until all work enqueued so far is done;
                                           // rethrows the first error raised by that work (then
                                           // forgets it: the stream is usable again)
  virtual void* native_handle() = 0;       // cudaStream_t on CUDA, the CpuStream itself on CPU
};

class Event {
 public:
  virtual ~Event() = default;
  virtual void record(Stream& s) = 0;      // marks the current end of s's queue
  virtual void wait_on(Stream& s) = 0;     // s waits (device-side) until the recorded point is reached
  virtual void synchronize() = 0;          // host blocks until the recorded point is reached
  virtual bool query() = 0;                // true once reached (or never recorded)
  // Milliseconds from `origin` to this event; both must have been reached and created with timing.
  virtual double elapsed_ms_since(Event& origin) = 0;
};

struct DeviceMemoryInfo {
  std::size_t total_bytes = 0;
  std::size_t free_bytes = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual DeviceKind kind() const = 0;
  virtual std::string name() const = 0;  // "cpu (8 threads)", "NVIDIA H100 80GB HBM3"
  // id 0 is the compute stream by convention; the caller numbers them.
  virtual std::unique_ptr<Stream> create_stream(int id) = 0;
  virtual std::unique_ptr<Event> create_event(bool timing) = 0;
  // Asynchronous copy of n bytes on stream s (both pointers addressable by this backend).
  virtual void memcpy_async(void* dst, const void* src, std::size_t n, Stream& s) = 0;
  // Runs fn on the host after all prior work in s (CUDA: cudaLaunchHostFunc; CPU: a task).
  // fn may throw: the exception never reaches the thread that runs it (on CUDA the driver's, where
  // it would end the process); s.synchronize() rethrows it, and s skips its later callbacks (CPU:
  // its later tasks) until then. Device work already queued after fn still runs on CUDA.
  virtual void host_callback(Stream& s, std::function<void()> fn) = 0;
  virtual DeviceMemoryInfo memory_info() const = 0;
};

// Creates the backend for `kind`. CUDA throws BadInput when ferry was built without CUDA and
// ResourceExhausted when no device is present. `threads` (CPU only): 0 = all cores.
std::unique_ptr<Backend> make_backend(DeviceKind kind, int device_index = 0, int threads = 0);
bool cuda_compiled();          // ferry was built with the CUDA backend
int cuda_device_count();       // 0 when not compiled or no device / driver

}  // namespace ferry
