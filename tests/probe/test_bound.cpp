// The per-step bound: finish_bound on hand-computed cases, the summary of a run's steps, and the
// Engine reporting one StepBound per step against a (synthetic) probe.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "base/error.h"
#include "runtime/bound.h"
#include "runtime/engine.h"
#include "runtime/report.h"
#include "tests/support/test_util.h"

namespace ferry {
namespace {

// A step of `measured` seconds: `flops` at 1e12 FLOP/s, `streamed` bytes over a 1e9 B/s link of
// which `disk` came from a 0.5e9 B/s disk, `read` bytes at 1e10 B/s.
StepBound make_step(double measured, double flops, std::uint64_t streamed, std::uint64_t disk, std::uint64_t read) {
  StepBound b;
  b.step = 1;
  b.measured_s = measured;
  b.flops = flops;
  b.streamed_bytes = streamed;
  b.disk_bytes = disk;
  b.read_bytes = read;
  b.flops_per_s = 1e12;
  b.link_bps = 1e9;
  b.disk_bps = 0.5e9;
  b.memory_bps = 1e10;
  finish_bound(b);
  return b;
}

TEST(Bound, LinkLimitedStep) {
  // link 1e9 B / 1e9 B/s = 1 s; memory 1e9 / 1e10 = 0.1 s; compute 1e11 / 1e12 = 0.1 s.
  const StepBound b = make_step(2.0, 1e11, 1'000'000'000, 0, 1'000'000'000);
  EXPECT_DOUBLE_EQ(b.link_s, 1.0);
  EXPECT_DOUBLE_EQ(b.bound_s, 1.0);
  EXPECT_DOUBLE_EQ(b.fraction, 0.5);
  EXPECT_EQ(b.limited_by, "link");
}

TEST(Bound, BytesFromDiskAreBoundByTheDisk) {
  // 1e9 streamed, 0.8e9 of them from disk: the disk's 1.6 s beats the link's 1 s.
  const StepBound b = make_step(4.0, 0, 1'000'000'000, 800'000'000, 0);
  EXPECT_DOUBLE_EQ(b.link_s, 1.6);
  EXPECT_DOUBLE_EQ(b.fraction, 0.4);
  EXPECT_EQ(b.limited_by, "link");
}

TEST(Bound, ComputeIsTheMachinesFlopsNotFerrysTime) {
  // 3e12 FLOPs at 1e12 FLOP/s = 3 s > link 1 s > memory 0.1 s.
  StepBound b = make_step(4.0, 3e12, 1'000'000'000, 0, 1'000'000'000);
  EXPECT_DOUBLE_EQ(b.compute_s, 3.0);
  EXPECT_DOUBLE_EQ(b.fraction, 0.75);
  EXPECT_EQ(b.limited_by, "compute");
  // A slow kernel (ferry computing for 3.9 s of the 4) does not move the bound: it only scores lower.
  b.ferry_compute_s = 3.9;
  finish_bound(b);
  EXPECT_DOUBLE_EQ(b.bound_s, 3.0);
  b = make_step(4.0, 1e9, 0, 0, 1'000'000'000);
  b.ferry_compute_s = 3.9;
  finish_bound(b);
  EXPECT_DOUBLE_EQ(b.bound_s, 0.1) << "a resident step: memory, whatever ferry's compute took";
  EXPECT_EQ(b.limited_by, "memory");
}

TEST(Bound, MemoryLimitedStep) {
  // memory 4e10 / 1e10 = 4 s > compute 1 s > link 0.1 s.
  const StepBound b = make_step(5.0, 1e12, 100'000'000, 0, 40'000'000'000);
  EXPECT_DOUBLE_EQ(b.bound_s, 4.0);
  EXPECT_DOUBLE_EQ(b.fraction, 0.8);
  EXPECT_EQ(b.limited_by, "memory");
}

TEST(Bound, BytesTheCacheHoldsAreLeftOut) {
  StepBound b = make_step(1.0, 0, 3'000'000'000, 0, 2'000'000'000);
  b.memory_cache_bytes = 1'000'000'000;
  b.link_cache_bytes = 1'000'000'000;
  finish_bound(b);
  EXPECT_DOUBLE_EQ(b.memory_s, 0.1);
  EXPECT_DOUBLE_EQ(b.link_s, 2.0);
  b.memory_cache_bytes = 5'000'000'000;  // everything fits: no memory term at all
  finish_bound(b);
  EXPECT_DOUBLE_EQ(b.memory_s, 0.0);
}

TEST(Bound, UnprobedTermsAndZeroTimeAreLeftOut) {
  StepBound b = make_step(1.0, 2.5e11, 1'000'000, 0, 1'000);
  b.link_bps = 0;  // no link bandwidth: the streamed bytes give no term (no division by zero)
  finish_bound(b);
  EXPECT_DOUBLE_EQ(b.bound_s, 0.25);
  EXPECT_EQ(b.limited_by, "compute");
  b = make_step(0.0, 0.0, 0, 0, 10'000'000'000);
  EXPECT_DOUBLE_EQ(b.bound_s, 1.0);
  EXPECT_EQ(b.fraction, 0.0);
}

TEST(Bound, TheLinkIsTheSameForEveryPolicy) {
  ProbeResult p;
  p.h2d_bps = 10e9;
  p.fault_bps = 2.5e9;
  p.managed_prefetch_bps = 2.7e9;
  EXPECT_DOUBLE_EQ(link_bandwidth(p), 10e9) << "the mechanisms of um and um-prefetch are not the bound";
}

TEST(Bound, SummaryTakesTheDecodeMedianAndTheCommonestLimit) {
  std::vector<StepBound> steps(5);
  const double fractions[] = {0.9, 0.2, 0.6, 0.4, 0.5};
  const char* limits[] = {"compute", "link", "memory", "link", "link"};
  for (int i = 0; i < 5; ++i) {
    steps[static_cast<std::size_t>(i)].step = i;
    steps[static_cast<std::size_t>(i)].fraction = fractions[i];
    steps[static_cast<std::size_t>(i)].limited_by = limits[i];
  }
  BoundSummary s = summarize_bounds(steps);
  EXPECT_DOUBLE_EQ(s.prefill_fraction, 0.9);
  EXPECT_DOUBLE_EQ(s.decode_fraction, 0.45);  // median of 0.2, 0.4, 0.5, 0.6
  EXPECT_EQ(s.limited_by, "link");
  steps.resize(1);  // prefill only: its limit is the run's
  s = summarize_bounds(steps);
  EXPECT_DOUBLE_EQ(s.decode_fraction, 0.0);
  EXPECT_EQ(s.limited_by, "compute");
  EXPECT_EQ(summarize_bounds({}).limited_by, "");
}

// ---- the Engine ---------------------------------------------------------------------------------

class EngineBound : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::filesystem::path(test::temp_dir("bound"));
    spec_ = new ModelSpec(parse_model_toml_string(test::tiny_toml(6, 5), "bound.toml", dir_->string()));
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
    delete spec_;
  }
  // Rates above what this machine does, so every term is small against the step's real time.
  static ProbeResult synthetic_probe() {
    ProbeResult p;
    p.device = "cpu";
    p.h2d_bps = 400e9;
    p.d2h_bps = 400e9;
    p.managed_prefetch_bps = 300e9;
    p.fault_bps = 200e9;
    p.device_bps = 500e9;
    p.disk_read_bps = 100e9;
    p.flops_per_s = 10e12;
    return p;
  }
  static GenerateResult run(Policy policy, const char* budget, bool probe, int n = 4, bool trace = false) {
    EngineConfig cfg;
    cfg.progress = false;
    cfg.pack_dir = dir_->string();
    cfg.policy = policy;
    cfg.trace = trace;
    if (budget) cfg.budget = parse_budget(budget, "--budget");
    if (probe) cfg.probe = synthetic_probe();
    Engine engine(*spec_, cfg);
    EXPECT_EQ(engine.timeline() != nullptr, trace) << "only --trace (or --report) records the timeline";
    GenerateRequest req;
    req.prompts = {{1, 2, 3}, {4, 5}};
    req.max_new_tokens = n;
    return engine.generate(req);
  }
  static std::filesystem::path* dir_;
  static ModelSpec* spec_;
};
std::filesystem::path* EngineBound::dir_ = nullptr;
ModelSpec* EngineBound::spec_ = nullptr;

TEST_F(EngineBound, OneBoundPerStepUnderPressureWithStreaming) {
  const GenerateResult res = run(Policy::Stream, "35%", true, 5);
  const RunStats& st = res.stats;
  ASSERT_EQ(st.steps.size(), 5u) << "prefill + 4 decode steps";
  const ProbeResult p = synthetic_probe();
  for (std::size_t i = 0; i < st.steps.size(); ++i) {
    const StepBound& b = st.steps[i];
    EXPECT_EQ(b.step, static_cast<int>(i));
    EXPECT_GT(b.measured_s, 0) << "step " << i;
    EXPECT_GT(b.flops, 0) << "step " << i;
    EXPECT_GT(b.compute_s, 0) << "step " << i;
    EXPECT_EQ(b.ferry_compute_s, -1) << "no timeline: ferry's own compute time is not recorded";
    EXPECT_GT(b.streamed_bytes, 0u) << "step " << i << ": 35% of the model cannot stay resident";
    EXPECT_TRUE(b.streamed_measured);
    EXPECT_GT(b.read_bytes, 0u) << "step " << i;
    EXPECT_EQ(b.link_bps, p.h2d_bps);
    EXPECT_EQ(b.memory_bps, p.device_bps);
    EXPECT_EQ(b.flops_per_s, p.flops_per_s);
    EXPECT_GT(b.fraction, 0) << "step " << i;
    EXPECT_LE(b.fraction, 1.0) << "step " << i;
    EXPECT_TRUE(b.limited_by == "compute" || b.limited_by == "link" || b.limited_by == "memory") << b.limited_by;
  }
  EXPECT_GT(st.steps[2].read_bytes, st.steps[1].read_bytes) << "the KV cache read grows by a position a step";
  EXPECT_EQ(st.bound_link_bps, p.h2d_bps);
  EXPECT_GT(st.decode_bound_fraction, 0);
  EXPECT_GT(st.prefill_bound_fraction, 0);
  EXPECT_FALSE(st.limited_by.empty());
  std::uint64_t streamed = 0;
  for (const StepBound& b : st.steps) streamed += b.streamed_bytes;
  EXPECT_EQ(streamed, st.bytes_h2d) << "the steps account for every byte moved";

  const nlohmann::json j = stats_json(st);
  ASSERT_TRUE(j["bound"].is_object());
  EXPECT_EQ(j["bound"]["steps"].size(), 5u);
  for (const char* k : {"link_bps", "disk_bps", "memory_bps", "flops_per_s", "prefill_fraction", "decode_fraction",
                        "max_fraction", "limited_by"})
    EXPECT_TRUE(j["bound"].contains(k)) << k;
  for (const char* k : {"step", "measured_s", "flops", "streamed_bytes", "disk_bytes", "read_bytes", "compute_s",
                        "link_s", "memory_s", "bound_s", "fraction", "limited_by", "ferry_compute_s"})
    EXPECT_TRUE(j["bound"]["steps"][0].contains(k)) << k;
}

TEST_F(EngineBound, FerrysComputeTimeIsReportedBesideTheBoundWithATrace) {
  const GenerateResult res = run(Policy::Stream, "35%", true, 3, true);
  for (const StepBound& b : res.stats.steps) {
    EXPECT_GT(b.ferry_compute_s, 0) << "step " << b.step;
    EXPECT_LE(b.ferry_compute_s, b.measured_s * 1.01 + 1e-4) << "step " << b.step;
  }
}

TEST_F(EngineBound, EveryPolicyIsMeasuredAgainstTheSameLink) {
  for (Policy pol : {Policy::Stream, Policy::UM, Policy::UMPrefetch}) {
    const GenerateResult res = run(pol, "35%", true, 3);
    EXPECT_EQ(res.stats.bound_link_bps, synthetic_probe().h2d_bps) << policy_name(pol);
    for (const StepBound& b : res.stats.steps) {
      EXPECT_GT(b.streamed_bytes, 0u) << policy_name(pol) << " step " << b.step << ": measured, not assumed";
      EXPECT_TRUE(b.streamed_measured);
    }
  }
}

TEST_F(EngineBound, ResidentStepsMoveNothing) {
  const GenerateResult res = run(Policy::Resident, nullptr, true, 3);
  ASSERT_EQ(res.stats.steps.size(), 3u);
  for (const StepBound& b : res.stats.steps) {
    EXPECT_EQ(b.streamed_bytes, 0u);
    EXPECT_GT(b.fraction, 0);
  }
}

TEST_F(EngineBound, UnifiedMemoryCountsThePagesThatFaultedIn) {
  // um: the bytes are read from the page tables when a pack is evicted, so they are the pages the
  // compute really touched: at most the streamed packs' regions, and more than nothing.
  const GenerateResult res = run(Policy::UM, "35%", true, 3);
  std::uint64_t streamed = 0;
  for (const StepBound& b : res.stats.steps) streamed += b.streamed_bytes;
  EXPECT_GT(streamed, 0u);
  EXPECT_LE(res.stats.steps[1].streamed_bytes, res.stats.model_bytes);
}

TEST_F(EngineBound, PromptOnlyRunHasOnePrefillStep) {
  const GenerateResult res = run(Policy::Stream, "35%", true, 0);
  ASSERT_EQ(res.stats.steps.size(), 1u);
  EXPECT_EQ(res.stats.steps[0].step, 0);
  EXPECT_EQ(res.stats.decode_bound_fraction, 0);
  EXPECT_GT(res.stats.prefill_bound_fraction, 0);
}

TEST_F(EngineBound, WithoutAProbeThereIsNoBound) {
  const GenerateResult res = run(Policy::Stream, "35%", false, 3);
  EXPECT_TRUE(res.stats.steps.empty());
  EXPECT_TRUE(stats_json(res.stats)["bound"].is_null());
}

TEST_F(EngineBound, AProbeOfAnotherDeviceIsBadInput) {
  EngineConfig cfg;
  cfg.progress = false;
  cfg.pack_dir = dir_->string();
  cfg.probe = synthetic_probe();
  cfg.probe->device = "cuda";
  EXPECT_THROW(Engine(*spec_, cfg), BadInput);
}

}  // namespace
}  // namespace ferry
