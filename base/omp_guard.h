// OmpGuard: carries an exception out of an OpenMP region. An exception that leaves a parallel
// region (or crosses a worksharing loop's iterations) calls std::terminate, so code that can throw
// inside one (allocation, a conversion that checks its dtype, FERRY_CHECK) runs in guard.run():
//
//   OmpGuard guard;
//   #pragma omp parallel for
//   for (std::int64_t i = 0; i < n; ++i) guard.run([&] { work(i); });
//   guard.rethrow();  // on the calling thread, after the region's barrier
//
// The first exception is kept; once one is caught the remaining iterations are skipped (their
// results are discarded with the error), and later exceptions are dropped. Plain arithmetic loops
// that cannot throw need no guard.
#pragma once
#include <atomic>
#include <exception>
#include <utility>

namespace ferry {

class OmpGuard {
 public:
  OmpGuard() = default;
  OmpGuard(const OmpGuard&) = delete;
  OmpGuard& operator=(const OmpGuard&) = delete;

  // Runs body() unless an earlier call failed; never lets an exception out.
  template <class F>
  void run(F&& body) noexcept {
    if (failed_.load(std::memory_order_relaxed)) return;
    try {
      std::forward<F>(body)();
    } catch (...) {
      // The first thread to fail owns error_; the region's closing barrier publishes it.
      bool expected = false;
      if (failed_.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) error_ = std::current_exception();
    }
  }

  bool failed() const { return failed_.load(std::memory_order_acquire); }

  // Call after the region: rethrows the first exception a body raised (and forgets it).
  void rethrow() {
    if (!failed()) return;
    failed_.store(false, std::memory_order_relaxed);
    std::rethrow_exception(std::exchange(error_, nullptr));
  }

 private:
  std::atomic<bool> failed_{false};
  std::exception_ptr error_;
};

}  // namespace ferry
