// CPU backend: streams are in-order task queues, each served by one thread.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "base/backend.h"

namespace ferry {

class CpuStream final : public Stream {
 public:
  explicit CpuStream(int id);
  ~CpuStream() override;  // drains the queue, joins the thread; never throws
  CpuStream(const CpuStream&) = delete;
  CpuStream& operator=(const CpuStream&) = delete;

  DeviceKind device() const override { return DeviceKind::CPU; }
  int id() const override { return id_; }
  void synchronize() override;
  void* native_handle() override { return this; }

  // Appends a task. Tasks run in order on this stream's thread. A task that throws poisons the
  // stream: later tasks are skipped and synchronize() rethrows the first error.
  void enqueue(std::function<void()> task);
  // Appends a task that runs even on a poisoned stream (event records: a stream waiting on this
  // one must not wait forever because an earlier task failed). It must not throw.
  void enqueue_always(std::function<void()> task);

  // Workspace of the ops this stream runs (ops never allocate; ops/cpu.h Scratch): 16 MiB,
  // allocated with the stream and not touched, so using no memory, until an op needs it. Only
  // this stream's tasks may use it.
  static constexpr std::size_t kScratchFloats = std::size_t{4} << 20;
  float* scratch() { return scratch_.get(); }

 private:
  void loop();
  int id_;
  std::mutex mu_;
  std::condition_variable cv_;
  struct Task {
    std::function<void()> fn;
    bool always = false;
  };
  std::deque<Task> queue_;
  std::size_t pending_ = 0;  // queued + running
  bool stop_ = false;
  std::exception_ptr error_;
  std::unique_ptr<float[]> scratch_;
  std::thread thread_;
};

class CpuEvent final : public Event {
 public:
  explicit CpuEvent(bool timing) : timing_(timing) {}
  void record(Stream& s) override;
  void wait_on(Stream& s) override;
  void synchronize() override;
  bool query() override;
  double elapsed_ms_since(Event& origin) override;

 private:
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    bool done = true;
    std::chrono::steady_clock::time_point when{};
  };
  bool timing_;
  // A fresh state per record(), so a stream still waiting on an earlier record is not confused.
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

// Casts a generic stream to the CPU stream; throws InternalError naming `op` on a mismatch.
CpuStream& cpu_stream(Stream& s, const char* op);

// `threads` (0 = all online cores; BadInput when negative) is the one place the CPU thread count is
// applied: OpenBLAS's pool and the OpenMP regions of the ops, on the constructing thread and on
// every stream this backend creates. The last CpuBackend made sets OpenBLAS's process-wide count.
class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int threads);
  DeviceKind kind() const override { return DeviceKind::CPU; }
  std::string name() const override;
  std::unique_ptr<Stream> create_stream(int id) override;
  std::unique_ptr<Event> create_event(bool timing) override;
  void memcpy_async(void* dst, const void* src, std::size_t n, Stream& s) override;
  void host_callback(Stream& s, std::function<void()> fn) override;
  DeviceMemoryInfo memory_info() const override;  // physical RAM (total, available)
  int threads() const { return threads_; }

 private:
  int threads_;
};

}  // namespace ferry
