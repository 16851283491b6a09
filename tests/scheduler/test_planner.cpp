#include <gtest/gtest.h>

#include <string>

#include "base/error.h"
#include "scheduler/planner.h"

namespace ferry {
namespace {

constexpr std::uint64_t M = 1 << 20;

// pack 0 = 100 MiB, 8 blocks of 50 MiB: a 500 MiB model whose minimum budget is 150 MiB.
PlanRequest uniform(Policy p, std::uint64_t budget, int depth = 1, int streams = 2, DeviceKind dev = DeviceKind::CPU) {
  PlanRequest r;
  r.policy = p;
  r.budget = budget;
  r.depth = depth;
  r.streams = streams;
  r.pack_bytes = {100 * M, 50 * M, 50 * M, 50 * M, 50 * M, 50 * M, 50 * M, 50 * M, 50 * M};
  r.device = dev;
  return r;
}

int kept_blocks(const Plan& p) {
  int n = 0;
  for (std::size_t i = 1; i < p.keep.size(); ++i) n += p.keep[i] ? 1 : 0;
  return n;
}

TEST(Planner, UnlimitedAutoIsResident) {
  PlanRequest r = uniform(Policy::Auto, 0);
  r.budget = std::numeric_limits<std::uint64_t>::max();
  const Plan p = make_plan(r);
  EXPECT_EQ(p.policy, Policy::Resident);
  EXPECT_EQ(p.model_bytes, 500 * M);
  EXPECT_EQ(p.budget, 500 * M);
  EXPECT_EQ(p.min_budget, 150 * M);
  EXPECT_EQ(p.planned_peak, 500 * M);
  EXPECT_EQ(p.depth, 0);
  EXPECT_EQ(p.streams, 1);
  EXPECT_EQ(p.slots, 0);
  EXPECT_EQ(kept_blocks(p), 8);
  EXPECT_TRUE(p.keep[0]);
  EXPECT_EQ(p.resident_layers, 8);
  EXPECT_EQ(p.streamed_layers, 0);
}

struct Row {
  Policy req;
  std::uint64_t budget;
  int depth, streams;
  DeviceKind dev;
  Policy policy;  // expected
  int kept, depth_out, slots, streams_out;
  std::uint64_t peak;
};

TEST(Planner, BudgetTable) {
  const Row rows[] = {
      // 100%: everything kept, explicit policies honoured.
      {Policy::Auto, 500 * M, 1, 2, DeviceKind::CPU, Policy::Resident, 8, 0, 0, 1, 500 * M},
      {Policy::Stream, 500 * M, 2, 3, DeviceKind::CPU, Policy::Stream, 8, 0, 0, 1, 500 * M},
      {Policy::UM, 600 * M, 2, 3, DeviceKind::CUDA, Policy::UM, 8, 0, 0, 1, 500 * M},
      {Policy::Resident, 500 * M, 1, 2, DeviceKind::CPU, Policy::Resident, 8, 0, 0, 1, 500 * M},
      // 50%: 250 MiB = 100 static + 2 slots of 50 + 1 kept block.
      {Policy::Auto, 250 * M, 1, 2, DeviceKind::CPU, Policy::UMPrefetch, 1, 1, 2, 2, 250 * M},
      {Policy::Auto, 250 * M, 1, 2, DeviceKind::CUDA, Policy::Stream, 1, 1, 2, 2, 250 * M},  // never managed
      {Policy::UM, 250 * M, 3, 4, DeviceKind::CPU, Policy::UM, 2, 0, 1, 1, 250 * M},
      {Policy::UMPrefetch, 250 * M, 2, 0, DeviceKind::CPU, Policy::UMPrefetch, 0, 2, 3, 1, 250 * M},
      // 40% = 200 MiB with depth 3 asked for: clamped to depth 1 (100 + 2*50).
      {Policy::Stream, 200 * M, 3, 3, DeviceKind::CPU, Policy::Stream, 0, 1, 2, 3, 200 * M},
      // Exactly the minimum: one layer in flight.
      {Policy::Stream, 150 * M, 2, 2, DeviceKind::CPU, Policy::Stream, 0, 0, 1, 2, 150 * M},
      // 90%: 450 MiB; 2 slots leave room for 5 kept blocks (100 + 250 + 100).
      {Policy::Stream, 450 * M, 1, 2, DeviceKind::CPU, Policy::Stream, 5, 1, 2, 2, 450 * M},
      // 95%: 475 MiB with depth 4 (5 slots of 50): the window is honoured, so only 2 blocks are kept
      // (100 + 2*50 + 5*50 = 450; with 3 kept the 5 streamed blocks would need 500).
      {Policy::Stream, 475 * M, 4, 2, DeviceKind::CPU, Policy::Stream, 2, 4, 5, 2, 450 * M},
  };
  for (const Row& row : rows) {
    const Plan p = make_plan(uniform(row.req, row.budget, row.depth, row.streams, row.dev));
    SCOPED_TRACE(p.summary());
    EXPECT_EQ(p.policy, row.policy);
    EXPECT_EQ(kept_blocks(p), row.kept);
    EXPECT_EQ(p.resident_layers, row.kept);
    EXPECT_EQ(p.streamed_layers, 8 - row.kept);
    EXPECT_EQ(p.depth, row.depth_out);
    EXPECT_EQ(p.slots, row.slots);
    EXPECT_EQ(p.streams, row.streams_out);
    EXPECT_EQ(p.planned_peak, row.peak);
    EXPECT_LE(p.planned_peak, row.budget);
    EXPECT_TRUE(p.keep[0]);
    // The kept blocks are the first ones.
    for (int b = 0; b < 8; ++b) EXPECT_EQ(p.keep[static_cast<std::size_t>(b) + 1], b < row.kept) << b;
  }
}

TEST(Planner, DepthClampIsNoted) {
  const Plan p = make_plan(uniform(Policy::Stream, 200 * M, 3, 2));
  EXPECT_EQ(p.depth, 1);
  bool noted = false;
  for (const auto& n : p.notes) noted |= n.find("clamped") != std::string::npos;
  EXPECT_TRUE(noted);
}

TEST(Planner, BelowOneLayerIsResourceExhausted) {
  try {
    make_plan(uniform(Policy::Auto, 125 * M));  // 25%
    FAIL();
  } catch (const ResourceExhausted& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("smaller than one layer"), std::string::npos) << m;
    EXPECT_NE(m.find("150"), std::string::npos) << m;  // the minimum, 150 MiB
    EXPECT_NE(m.find("MiB"), std::string::npos) << m;
  }
  EXPECT_THROW(make_plan(uniform(Policy::UM, 150 * M - 1)), ResourceExhausted);
  EXPECT_NO_THROW(make_plan(uniform(Policy::UM, 150 * M)));
}

TEST(Planner, ExplicitResidentUnderBudgetIsResourceExhausted) {
  EXPECT_THROW(make_plan(uniform(Policy::Resident, 250 * M)), ResourceExhausted);
  EXPECT_THROW(make_plan(uniform(Policy::Resident, 500 * M - 1)), ResourceExhausted);
}

TEST(Planner, UnevenBlocksPlanAgainstTheLargest) {
  PlanRequest r;
  r.policy = Policy::Stream;
  r.depth = 1;
  r.streams = 2;
  r.pack_bytes = {100 * M, 80 * M, 20 * M, 20 * M, 20 * M};  // min budget 180 MiB
  r.budget = 200 * M;
  const Plan p = make_plan(r);
  EXPECT_EQ(p.min_budget, 180 * M);
  EXPECT_EQ(p.depth, 0);  // 100 + 2*80 does not fit
  EXPECT_EQ(p.slots, 1);
  EXPECT_EQ(kept_blocks(p), 1);  // 100 + 80 kept + one 20 MiB slot
  EXPECT_EQ(p.planned_peak, 200 * M);
}

TEST(Planner, SummaryIsOneLineWithUnits) {
  const Plan p = make_plan(uniform(Policy::Auto, 250 * M));
  const std::string s = p.summary();
  EXPECT_EQ(s.find('\n'), std::string::npos);
  EXPECT_EQ(s.rfind("um-prefetch: 1/8 layers resident", 0), 0u) << s;
  EXPECT_NE(s.find("250"), std::string::npos) << s;
  EXPECT_NE(s.find("MiB"), std::string::npos) << s;
  EXPECT_FALSE(p.notes.empty());  // auto's resolution is noted
}

}  // namespace
}  // namespace ferry
