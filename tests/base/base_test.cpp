// base/: dtype conversions, transposes, size and budget parsing, CPU streams and events, the CPU thread count.
#include <cblas.h>
#include <gtest/gtest.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/backend.h"
#include "base/cpu_backend.h"
#include "base/dtype.h"
#include "base/error.h"
#include "base/transpose.h"
#include "base/um_counters.h"
#include "base/units.h"

namespace ferry {
namespace {

// CPU time (utime + stime, clock ticks) of every thread of this process, read from /proc: what the
// kernel saw run, not what ferry believes it asked for.
std::map<int, long> thread_cpu_ticks() {
  std::map<int, long> ticks;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream f(e.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const std::size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;  // the thread ended meanwhile
    std::istringstream rest(stat.substr(close + 2));
    std::string field;
    long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {  // fields 14 and 15 (1-based) of proc(5)
      if (i == 14) utime = std::stol(field);
      if (i == 15) stime = std::stol(field);
    }
    ticks[std::stoi(e.path().filename().string())] = utime + stime;
  }
  return ticks;
}

// Runs square sgemms on a stream of a CpuBackend with `threads` for about `seconds` of wall time
// and returns how many threads of the process did a real share of the work: at least a quarter of
// the CPU time of the busiest thread. An absolute floor counted OpenBLAS's idle workers, which spin
// for about 0.1 s of CPU after the library starts and so could gain a few ticks while the GEMM ran
// (seen when ctest ran this test beside another on 2 cores).
int threads_busy_in_gemm(int threads, double seconds) {
  CpuBackend be(threads);
  auto s = be.create_stream(0);
  const int n = 384;
  std::vector<float> a(n * n, 0.5f), b(n * n, 0.25f), c(n * n, 0.0f);
  s->synchronize();  // the stream's first task (its OpenMP count) has run
  const std::map<int, long> before = thread_cpu_ticks();
  be.host_callback(*s, [&] {
    const auto t0 = std::chrono::steady_clock::now();
    while (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < seconds)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
  });
  s->synchronize();
  std::map<int, long> gained;
  long most = 0;
  for (const auto& [tid, t] : thread_cpu_ticks()) {
    const auto it = before.find(tid);
    gained[tid] = t - (it == before.end() ? 0 : it->second);
    most = std::max(most, gained[tid]);
  }
  int busy = 0;
  std::string all;
  for (const auto& [tid, g] : gained) {
    if (most >= 3 && 4 * g >= most) ++busy;
    std::ostringstream one;
    one << " " << tid << ":" << g;
    all += one.str();
  }
  EXPECT_FLOAT_EQ(c[0], 0.5f * 0.25f * n);
  EXPECT_GE(most, 3) << "the GEMM never ran";
  if (busy != threads) ADD_FAILURE() << "ticks gained per thread (tid:ticks):" << all;
  return busy;
}

// The size of an OpenMP team opened on a stream of a CpuBackend with `threads`.
int openmp_team_on_stream(int threads) {
  CpuBackend be(threads);
  auto s = be.create_stream(0);
  int team = 0;
  be.host_callback(*s, [&] {
#pragma omp parallel
    {
#pragma omp master
      team = omp_get_num_threads();
    }
  });
  s->synchronize();
  return team;
}

// One thread first: a pool woken by a larger count earlier in the process could still be spinning.
TEST(CpuThreads, OneThreadRunsTheGemmAlone) {
  EXPECT_EQ(threads_busy_in_gemm(1, 0.8), 1);
  EXPECT_EQ(openblas_get_num_threads(), 1);
}

TEST(CpuThreads, TwoThreadsRunTheGemm) {
  // OpenBLAS splits a 384^3 product between both threads; ticks are counted even on one core.
  EXPECT_EQ(threads_busy_in_gemm(2, 0.8), 2);
  EXPECT_EQ(openblas_get_num_threads(), 2);
}

TEST(CpuThreads, ReachOpenMPOnEveryStreamAndTheCallingThread) {
  EXPECT_EQ(openmp_team_on_stream(1), 1);
  EXPECT_EQ(openmp_team_on_stream(3), 3);
  CpuBackend be(2);
  EXPECT_EQ(omp_get_max_threads(), 2);  // the loaders' regions run on the thread that made the backend
  EXPECT_NE(be.name().find("(2 threads)"), std::string::npos) << be.name();
}

TEST(CpuThreads, ZeroIsEveryCoreAndNegativeIsBadInput) {
  CpuBackend all(0);
  EXPECT_EQ(all.threads(), static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)));
  EXPECT_EQ(openblas_get_num_threads(), all.threads());
  try {
    CpuBackend bad(-1);
    FAIL() << "no error for -1 threads";
  } catch (const BadInput& e) {
    EXPECT_NE(std::string(e.what()).find("--threads"), std::string::npos) << e.what();
  }
}

// Debian's libopenblas0-pthread: a pool of its own (1), not OpenMP's (2); the CpuBackend sets both.
TEST(CpuThreads, OpenBlasIsAThreadedBuild) { EXPECT_NE(openblas_get_parallel(), 0); }

TEST(DType, HalfRoundTripsEveryFiniteHalf) {
  for (std::uint32_t h = 0; h < 0x10000u; ++h) {
    const auto v = static_cast<std::uint16_t>(h);
    const std::uint32_t exp = (h >> 10) & 0x1f;
    if (exp == 31 && (h & 0x3ff)) continue;  // NaN payloads need not round-trip exactly
    EXPECT_EQ(float_to_half(half_to_float(v)), v) << std::hex << h;
  }
}

TEST(DType, HalfRoundsToNearestEven) {
  EXPECT_EQ(half_to_float(float_to_half(1.0f)), 1.0f);
  // 1 + 2^-11 is exactly halfway between 1 and 1 + 2^-10: ties to even (1.0)
  EXPECT_EQ(half_to_float(float_to_half(1.0f + std::ldexp(1.0f, -11))), 1.0f);
  EXPECT_EQ(half_to_float(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11))), 1.0f + std::ldexp(1.0f, -9));
  EXPECT_TRUE(std::isinf(half_to_float(float_to_half(1e6f))));
  EXPECT_EQ(half_to_float(float_to_half(std::ldexp(1.0f, -24))), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(half_to_float(float_to_half(std::ldexp(1.0f, -26))), 0.0f);
  EXPECT_TRUE(std::isnan(half_to_float(float_to_half(std::numeric_limits<float>::quiet_NaN()))));
}

TEST(DType, Bf16RoundsToNearestEven) {
  EXPECT_EQ(bf16_to_float(float_to_bf16(1.0f)), 1.0f);
  EXPECT_EQ(bf16_to_float(float_to_bf16(1.0f + std::ldexp(1.0f, -8))), 1.0f);  // tie -> even
  EXPECT_EQ(bf16_to_float(float_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8))), 1.0f + std::ldexp(1.0f, -6));
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
}

TEST(DType, ParseNamesAndRejectsUnknown) {
  EXPECT_EQ(parse_dtype("bfloat16", "x"), DType::BF16);
  EXPECT_EQ(parse_dtype("F16", "x"), DType::F16);
  EXPECT_THROW(parse_dtype("int8", "x"), BadInput);
}

TEST(Units, ParsesSizesAndBudgets) {
  EXPECT_EQ(parse_bytes("2GiB", "b"), 2ull << 30);
  EXPECT_EQ(parse_bytes("512MiB", "b"), 512ull << 20);
  EXPECT_EQ(parse_bytes("1.5GB", "b"), 1500000000ull);
  EXPECT_EQ(parse_bytes("4096", "b"), 4096ull);
  EXPECT_THROW(parse_bytes("12parsecs", "b"), BadInput);
  EXPECT_THROW(parse_bytes("GiB", "b"), BadInput);
  const BudgetSpec pct = parse_budget("25%", "--budget");
  EXPECT_EQ(pct.resolve(1000), 250u);
  EXPECT_EQ(parse_budget("1KiB", "--budget").resolve(1), 1024u);
  EXPECT_EQ(BudgetSpec{}.resolve(5), std::numeric_limits<std::uint64_t>::max());
  EXPECT_THROW(parse_budget("0%", "--budget"), BadInput);
  EXPECT_THROW(parse_budget("101%", "--budget"), BadInput);
  EXPECT_EQ(format_bytes(1536), "1.50 KiB");
}

TEST(CpuStream, RunsTasksInOrderAndRethrowsErrors) {
  auto be = make_backend(DeviceKind::CPU);
  auto s = be->create_stream(0);
  std::vector<int> order;
  for (int i = 0; i < 100; ++i) cpu_stream(*s, "t").enqueue([&order, i] { order.push_back(i); });
  s->synchronize();
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[static_cast<std::size_t>(i)], i);
  bool ran_after_error = false;
  cpu_stream(*s, "t").enqueue([] { throw BadInput("boom"); });
  cpu_stream(*s, "t").enqueue([&] { ran_after_error = true; });
  EXPECT_THROW(s->synchronize(), BadInput);
  EXPECT_FALSE(ran_after_error);
  // the error is reported once; the stream is usable again
  cpu_stream(*s, "t").enqueue([&] { ran_after_error = true; });
  s->synchronize();
  EXPECT_TRUE(ran_after_error);
}

TEST(CpuEvent, StreamWaitsOnAnotherStreamsEventWithoutBlockingTheHost) {
  auto be = make_backend(DeviceKind::CPU);
  auto a = be->create_stream(1), b = be->create_stream(0);
  auto ev = be->create_event(true);
  std::atomic<bool> gate{false};
  std::atomic<int> stage{0};
  cpu_stream(*a, "t").enqueue([&] {
    while (!gate.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    stage = 1;
  });
  ev->record(*a);
  ev->wait_on(*b);
  cpu_stream(*b, "t").enqueue([&] { EXPECT_EQ(stage.load(), 1); stage = 2; });
  // the host is not blocked: we get here while a is still gated
  EXPECT_FALSE(ev->query());
  gate = true;
  b->synchronize();
  EXPECT_EQ(stage.load(), 2);
  EXPECT_TRUE(ev->query());
  auto origin = be->create_event(true);
  origin->record(*a);
  auto later = be->create_event(true);
  cpu_stream(*a, "t").enqueue([] { std::this_thread::sleep_for(std::chrono::milliseconds(5)); });
  later->record(*a);
  EXPECT_GE(later->elapsed_ms_since(*origin), 4.0);
}

TEST(CpuEvent, AFailedStreamStillReleasesStreamsWaitingOnIt) {
  auto be = make_backend(DeviceKind::CPU);
  auto a = be->create_stream(1), b = be->create_stream(0);
  auto ev = be->create_event(false);
  cpu_stream(*a, "t").enqueue([] { throw InternalError("failed task"); });
  ev->record(*a);
  ev->wait_on(*b);
  bool b_ran = false;
  cpu_stream(*b, "t").enqueue([&] { b_ran = true; });
  b->synchronize();  // must not hang
  EXPECT_TRUE(b_ran);
  EXPECT_THROW(a->synchronize(), InternalError);
}

TEST(Backend, CudaIsReportedHonestly) {
  if (!cuda_compiled()) {
    EXPECT_THROW(make_backend(DeviceKind::CUDA), BadInput);
  } else if (cuda_device_count() == 0) {
    EXPECT_THROW(make_backend(DeviceKind::CUDA), ResourceExhausted);
  } else {
    EXPECT_EQ(make_backend(DeviceKind::CUDA)->kind(), DeviceKind::CUDA);
  }
}

TEST(UmCounters, RecordsAddUpByKind) {
  UmCounts c;
  add_um_record(c, 4, 3);        // GPU page fault: one faulted page (3 fault groups of it)
  add_um_record(c, 4, 1);
  add_um_record(c, 1, 65536);    // host -> device migration of 64 KiB
  add_um_record(c, 2, 4096);     // device -> host
  add_um_record(c, 3, 12345);    // CPU page fault (a program counter): not counted
  add_um_record(c, 99, 1);       // unknown kind: ignored
  EXPECT_EQ(c.gpu_page_faults, 2u);
  EXPECT_EQ(c.bytes_h2d, 65536u);
  EXPECT_EQ(c.bytes_d2h, 4096u);
}

TEST(UmCounters, WithoutADeviceTheyAreOffAndSayWhy) {
  if (cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is present: tests/gpu covers the counters";
  const std::string why = enable_um_counters(0);
  EXPECT_FALSE(why.empty());
  EXPECT_FALSE(um_counters_enabled());
  EXPECT_EQ(um_counts().gpu_page_faults, 0u);
}

// Transposes of 4- and 2-byte elements, odd shapes and shapes past one 32 x 32 tile and the
// threading threshold; every element is distinct, so a misplaced one shows.
template <class T>
void check_transpose(std::int64_t rows, std::int64_t cols) {
  std::vector<T> src(static_cast<std::size_t>(rows * cols)), dst(src.size(), T{0});
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<T>(i + 1);
  transpose(src.data(), dst.data(), rows, cols, sizeof(T));
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c)
      ASSERT_EQ(dst[static_cast<std::size_t>(c * rows + r)], src[static_cast<std::size_t>(r * cols + c)])
          << rows << " x " << cols << " at (" << r << ", " << c << ")";
}

TEST(Transpose, EveryElementLandsAtItsMirror) {
  for (auto [r, c] : {std::pair<std::int64_t, std::int64_t>{1, 1}, {1, 7}, {7, 1}, {33, 65}, {64, 32}, {300, 257}}) {
    check_transpose<std::uint32_t>(r, c);
    check_transpose<std::uint16_t>(r, c);
  }
}

TEST(Transpose, OtherElementSizesAreRefused) {
  std::vector<std::uint8_t> a(4), b(4);
  EXPECT_THROW(transpose(a.data(), b.data(), 2, 2, 1), InternalError);
}

}  // namespace
}  // namespace ferry
