// base/: dtype conversions, size and budget parsing, CPU streams and events.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include "base/backend.h"
#include "base/cpu_backend.h"
#include "base/dtype.h"
#include "base/error.h"
#include "base/um_counters.h"
#include "base/units.h"

namespace ferry {
namespace {

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

}  // namespace
}  // namespace ferry
