#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "base/backend.h"
#include "base/cpu_backend.h"
#include "base/error.h"
#include "scheduler/timeline.h"

namespace ferry {
namespace {

TEST(Timeline, RecordsIntervalsInStreamOrderAndWritesChromeTrace) {
  auto backend = make_backend(DeviceKind::CPU, 0, 1);
  auto compute = backend->create_stream(0);
  auto copy = backend->create_stream(1);
  Timeline tl(*backend);
  auto* cs = static_cast<CpuStream*>(compute->native_handle());
  const int a = tl.begin(TimelineKind::Prefetch, 3, 1, *copy, "prefetch L2");
  static_cast<CpuStream*>(copy->native_handle())->enqueue([] { std::this_thread::sleep_for(std::chrono::milliseconds(2)); });
  tl.end(a, *copy);
  auto ev = backend->create_event(false);
  ev->record(*copy);
  ev->wait_on(*compute);
  const int b = tl.begin(TimelineKind::Compute, 3, 1, *compute, "compute L2");
  cs->enqueue([] { std::this_thread::sleep_for(std::chrono::milliseconds(1)); });
  tl.end(b, *compute);
  compute->synchronize();
  copy->synchronize();
  tl.resolve();
  ASSERT_EQ(tl.records().size(), 2u);
  const TimelineRecord& p = tl.records()[0];
  const TimelineRecord& c = tl.records()[1];
  EXPECT_EQ(p.kind, TimelineKind::Prefetch);
  EXPECT_EQ(p.stream, 1);
  EXPECT_EQ(p.pack, 3);
  EXPECT_EQ(p.step, 1);
  EXPECT_GE(p.begin_us, 0.0);
  EXPECT_GE(p.end_us - p.begin_us, 1000.0);  // the 2 ms sleep is inside the interval
  EXPECT_GE(c.begin_us, p.end_us);           // ordered by the event
  EXPECT_EQ(c.stream, 0);

  const std::string path = ::testing::TempDir() + "/ferry_trace_" + std::to_string(getpid()) + ".json";
  tl.write_chrome_trace(path);
  std::ifstream f(path);
  const nlohmann::json doc = nlohmann::json::parse(f);
  EXPECT_EQ(doc.at("displayTimeUnit"), "ms");
  int complete = 0;
  std::set<std::string> lanes;
  for (const auto& e : doc.at("traceEvents")) {
    if (e.at("ph") == "X") {
      ++complete;
      EXPECT_EQ(e.at("args").at("pack"), 3);
      EXPECT_TRUE(e.at("cat") == "prefetch" || e.at("cat") == "compute");
      EXPECT_GE(e.at("dur").get<double>(), 0.0);
    } else if (e.at("ph") == "M") {
      EXPECT_EQ(e.at("name"), "thread_name");
      lanes.insert(e.at("args").at("name").get<std::string>());
    }
  }
  EXPECT_EQ(complete, 2);
  EXPECT_EQ(lanes, (std::set<std::string>{"compute", "copy 1"}));
  std::remove(path.c_str());
}

TEST(Timeline, UnwritablePathIsBadInput) {
  auto backend = make_backend(DeviceKind::CPU, 0, 1);
  Timeline tl(*backend);
  EXPECT_THROW(tl.write_chrome_trace("/nonexistent_dir_ferry/trace.json"), BadInput);
}

TEST(Timeline, KindNames) {
  EXPECT_STREQ(timeline_kind_name(TimelineKind::Evict), "evict");
  EXPECT_STREQ(timeline_kind_name(TimelineKind::Prefetch), "prefetch");
}

}  // namespace
}  // namespace ferry
