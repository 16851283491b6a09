#include "base/cpu_backend.h"

#include <cblas.h>
#include <omp.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "base/error.h"
#include "base/sysinfo.h"

namespace ferry {

// new float[] leaves the floats uninitialised: the pages stay untouched until an op writes them.
CpuStream::CpuStream(int id) : id_(id), scratch_(new float[kScratchFloats]), thread_([this] { loop(); }) {}

CpuStream::~CpuStream() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void CpuStream::enqueue(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    queue_.push_back(Task{std::move(task), false});
    ++pending_;
  }
  cv_.notify_all();
}

void CpuStream::enqueue_always(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    queue_.push_back(Task{std::move(task), true});
    ++pending_;
  }
  cv_.notify_all();
}

void CpuStream::loop() {
  for (;;) {
    Task task;
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stop_ and drained
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    bool skip;
    {
      std::lock_guard<std::mutex> lk(mu_);
      skip = static_cast<bool>(error_) && !task.always;
    }
    if (!skip) {
      try {
        task.fn();
      } catch (...) {
        std::lock_guard<std::mutex> lk(mu_);
        if (!error_) error_ = std::current_exception();
      }
    }
    {
      std::lock_guard<std::mutex> lk(mu_);
      --pending_;
    }
    cv_.notify_all();
  }
}

void CpuStream::synchronize() {
  std::exception_ptr err;
  {
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait(lk, [&] { return pending_ == 0; });
    err = error_;
    error_ = nullptr;
  }
  if (err) std::rethrow_exception(err);
}

CpuStream& cpu_stream(Stream& s, const char* op) {
  if (s.device() != DeviceKind::CPU)
    throw InternalError(std::string(op) + ": CPU implementation called with a non-CPU stream");
  return *static_cast<CpuStream*>(s.native_handle());
}

void CpuEvent::record(Stream& s) {
  CpuStream& cs = cpu_stream(s, "Event::record");
  auto st = std::make_shared<State>();
  st->done = false;
  cs.enqueue_always([st] {
    {
      std::lock_guard<std::mutex> lk(st->mu);
      st->when = std::chrono::steady_clock::now();
      st->done = true;
    }
    st->cv.notify_all();
  });
  // Only once the record is queued: a state nobody will complete would hang every later waiter.
  state_ = st;
}

void CpuEvent::wait_on(Stream& s) {
  auto st = state_;
  cpu_stream(s, "Event::wait_on").enqueue([st] {
    std::unique_lock<std::mutex> lk(st->mu);
    st->cv.wait(lk, [&] { return st->done; });
  });
}

void CpuEvent::synchronize() {
  auto st = state_;
  std::unique_lock<std::mutex> lk(st->mu);
  st->cv.wait(lk, [&] { return st->done; });
}

bool CpuEvent::query() {
  auto st = state_;
  std::lock_guard<std::mutex> lk(st->mu);
  return st->done;
}

double CpuEvent::elapsed_ms_since(Event& origin) {
  auto* o = dynamic_cast<CpuEvent*>(&origin);
  FERRY_CHECK(o != nullptr, "elapsed_ms_since: events of different backends");
  FERRY_CHECK(timing_ && o->timing_, "elapsed_ms_since: event created without timing");
  synchronize();
  o->synchronize();
  return std::chrono::duration<double, std::milli>(state_->when - o->state_->when).count();
}

namespace {

// OpenMP's thread count (nthreads-var) belongs to each thread: a value set on one thread does not
// reach the regions another thread opens. So it is set on the thread that makes the backend (the
// loaders' regions run there) and, by create_stream, as the first task of every stream.
void set_openmp_threads(int n) { omp_set_num_threads(n); }

}  // namespace

CpuBackend::CpuBackend(int threads) : threads_(threads) {
  if (threads_ < 0) throw BadInput("--threads: must be >= 0 (0 = all cores), got " + std::to_string(threads_));
  if (threads_ == 0) {
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
    threads_ = n > 0 ? static_cast<int>(n) : 1;
  }
  // ferry links OpenBLAS's OpenMP build (CMakeLists.txt): its calls run on the calling thread's
  // OpenMP pool, whose count is set below and on every stream; the process-wide count is set too,
  // for a build that fell back to the pthreads library.
  openblas_set_num_threads(threads_);
  set_openmp_threads(threads_);
}

std::string CpuBackend::name() const {
  std::string model = "cpu";
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto pos = line.find(':');
      if (pos != std::string::npos) model = line.substr(pos + 2);
      break;
    }
  }
  return model + " (" + std::to_string(threads_) + " threads)";
}

// Copy streams are one thread each and run no OpenMP region; the count is set on all of them
// alike, since which stream computes is the caller's choice.
std::unique_ptr<Stream> CpuBackend::create_stream(int id) {
  auto s = std::make_unique<CpuStream>(id);
  const int n = threads_;
  s->enqueue([n] { set_openmp_threads(n); });
  return s;
}

std::unique_ptr<Event> CpuBackend::create_event(bool timing) { return std::make_unique<CpuEvent>(timing); }

void CpuBackend::memcpy_async(void* dst, const void* src, std::size_t n, Stream& s) {
  cpu_stream(s, "memcpy_async").enqueue([dst, src, n] { std::memcpy(dst, src, n); });
}

void CpuBackend::host_callback(Stream& s, std::function<void()> fn) {
  cpu_stream(s, "host_callback").enqueue(std::move(fn));
}

DeviceMemoryInfo CpuBackend::memory_info() const {
  DeviceMemoryInfo info;
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long avail = sysconf(_SC_AVPHYS_PAGES);
  const long page = sysconf(_SC_PAGESIZE);
  info.total_bytes = static_cast<std::size_t>(pages) * static_cast<std::size_t>(page);
  info.free_bytes = static_cast<std::size_t>(avail) * static_cast<std::size_t>(page);
  // MemAvailable (includes reclaimable page cache) is the better figure when present.
  if (const std::uint64_t avail_bytes = available_ram_bytes(); avail_bytes > 0) info.free_bytes = avail_bytes;
  return info;
}

}  // namespace ferry
