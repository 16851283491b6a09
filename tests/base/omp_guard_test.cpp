// OmpGuard (base/omp_guard.h): an exception thrown inside an OpenMP loop reaches the code after
// the region, with its type and message, instead of std::terminate ending the process.
#include <gtest/gtest.h>
#include <omp.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/omp_guard.h"

namespace ferry {
namespace {

constexpr std::int64_t kN = 20000;

TEST(OmpGuard, TheFirstExceptionOfAParallelLoopReachesTheCaller) {
  OmpGuard guard;
  std::atomic<int> ran{0};
#pragma omp parallel for schedule(dynamic, 16) num_threads(4)
  for (std::int64_t i = 0; i < kN; ++i)
    guard.run([&] {
      ++ran;
      if (i == 1234) throw BadInput("iteration " + std::to_string(i) + " failed");
    });
  EXPECT_TRUE(guard.failed());
  try {
    guard.rethrow();
    ADD_FAILURE() << "rethrow() did not throw";
  } catch (const BadInput& e) {
    EXPECT_EQ(std::string(e.what()), "iteration 1234 failed");
  }
  EXPECT_GT(ran.load(), 0);
  // After rethrow the guard is clear and can serve another region.
  EXPECT_FALSE(guard.failed());
  EXPECT_NO_THROW(guard.rethrow());
}

TEST(OmpGuard, WhenEveryIterationThrowsOneExceptionComesOut) {
  OmpGuard guard;
#pragma omp parallel num_threads(4)
  {
    guard.run([] { throw ResourceExhausted("thread " + std::to_string(omp_get_thread_num())); });
#pragma omp for
    for (std::int64_t i = 0; i < kN; ++i) guard.run([] { throw InternalError("never reached"); });
  }
  EXPECT_THROW(guard.rethrow(), ResourceExhausted);
}

TEST(OmpGuard, IterationsAfterTheFailureAreSkipped) {
  OmpGuard guard;
  std::vector<int> done(kN, 0);
#pragma omp parallel for schedule(static) num_threads(1)
  for (std::int64_t i = 0; i < kN; ++i)
    guard.run([&] {
      if (i == 100) throw InternalError("stop");
      done[static_cast<std::size_t>(i)] = 1;
    });
  EXPECT_THROW(guard.rethrow(), InternalError);
  for (std::int64_t i = 0; i < kN; ++i) ASSERT_EQ(done[static_cast<std::size_t>(i)], i < 100 ? 1 : 0) << i;
}

TEST(OmpGuard, ALoopThatDoesNotThrowRunsEveryIteration) {
  OmpGuard guard;
  std::vector<int> done(kN, 0);
#pragma omp parallel for num_threads(4)
  for (std::int64_t i = 0; i < kN; ++i) guard.run([&] { done[static_cast<std::size_t>(i)] = 1; });
  EXPECT_FALSE(guard.failed());
  EXPECT_NO_THROW(guard.rethrow());
  for (int d : done) ASSERT_EQ(d, 1);
}

}  // namespace
}  // namespace ferry
