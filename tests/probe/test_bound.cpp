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

StepBound make_step(double measured, double compute, std::uint64_t streamed, double link, std::uint64_t read,
                    double memory) {
  StepBound b;
  b.step = 1;
  b.measured_s = measured;
  b.compute_s = compute;
  b.streamed_bytes = streamed;
  b.link_bps = link;
  b.resident_bytes = read;
  b.memory_bps = memory;
  finish_bound(b);
  return b;
}

TEST(Bound, LinkLimitedStep) {
  // link 1e9 B / 1e9 B/s = 1 s; memory 1e9 B / 1e10 B/s = 0.1 s; compute 0.5 s.
  const StepBound b = make_step(2.0, 0.5, 1'000'000'000, 1e9, 1'000'000'000, 1e10);
  EXPECT_DOUBLE_EQ(b.bound_s, 1.0);
  EXPECT_DOUBLE_EQ(b.fraction, 0.5);
  EXPECT_EQ(b.limited_by, "link");
}

TEST(Bound, ComputeLimitedStreamedStep) {
  // compute 3 s > link 1 s > memory 0.1 s.
  const StepBound b = make_step(4.0, 3.0, 1'000'000'000, 1e9, 1'000'000'000, 1e10);
  EXPECT_DOUBLE_EQ(b.bound_s, 3.0);
  EXPECT_DOUBLE_EQ(b.fraction, 0.75);
  EXPECT_EQ(b.limited_by, "compute");
}

TEST(Bound, MemoryLimitedStreamedStep) {
  // memory 4e9 / 1e9 = 4 s > compute 1 s > link 1e8 / 1e9 = 0.1 s.
  const StepBound b = make_step(5.0, 1.0, 100'000'000, 1e9, 4'000'000'000, 1e9);
  EXPECT_DOUBLE_EQ(b.bound_s, 4.0);
  EXPECT_DOUBLE_EQ(b.fraction, 0.8);
  EXPECT_EQ(b.limited_by, "memory");
}

TEST(Bound, ResidentStepIgnoresCompute) {
  // Nothing streamed: a slow kernel cannot hide behind itself; only the memory term counts.
  const StepBound b = make_step(2.5, 5.0, 0, 1e9, 2'000'000'000, 1e9);
  EXPECT_DOUBLE_EQ(b.bound_s, 2.0);
  EXPECT_DOUBLE_EQ(b.fraction, 0.8);
  EXPECT_EQ(b.limited_by, "memory");
}

TEST(Bound, UnprobedTermsAndZeroTimeAreLeftOut) {
  // No link bandwidth: the streamed bytes give no term (no division by zero); compute still does.
  StepBound b = make_step(1.0, 0.25, 1'000'000, 0, 1'000, 1e9);
  EXPECT_DOUBLE_EQ(b.bound_s, 0.25);
  EXPECT_EQ(b.limited_by, "compute");
  b = make_step(0.0, 0.0, 0, 1e9, 1'000'000'000, 1e9);
  EXPECT_DOUBLE_EQ(b.bound_s, 1.0);
  EXPECT_EQ(b.fraction, 0.0);
}

TEST(Bound, CpuStreamReadsDiskOnlyWhenTheStreamedPacksOutgrowThePageCache) {
  constexpr std::uint64_t GiB = std::uint64_t{1} << 30;
  // gpt2-xl at 25% on 22 GiB available: 4.4 GiB streamed fits beside a 1.5 GiB plan.
  EXPECT_FALSE(cpu_stream_reads_disk(4 * GiB, 22 * GiB, 2 * GiB));
  // gpt3-13b at 25%: 36 GiB streamed, 12 GiB planned, 22 GiB available: 10 GiB of room.
  EXPECT_TRUE(cpu_stream_reads_disk(36 * GiB, 22 * GiB, 12 * GiB));
  EXPECT_TRUE(cpu_stream_reads_disk(1, 10 * GiB, 11 * GiB));  // no room at all
  EXPECT_FALSE(cpu_stream_reads_disk(36 * GiB, 0, 12 * GiB));  // available RAM unknown

  ProbeResult p;
  p.h2d_bps = 10e9;
  p.fault_bps = 2.5e9;
  p.managed_prefetch_bps = 2.7e9;
  EXPECT_DOUBLE_EQ(bound_link_bps(p, Policy::Stream, false), 10e9);
  EXPECT_DOUBLE_EQ(bound_link_bps(p, Policy::Stream, true), 2.5e9);
  EXPECT_DOUBLE_EQ(bound_link_bps(p, Policy::UMPrefetch, true), 2.7e9);  // only stream changes
  p.fault_bps = 0;                                                        // not probed: keep the memcpy
  EXPECT_DOUBLE_EQ(bound_link_bps(p, Policy::Stream, true), 10e9);
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
  // Bandwidths above what one CPU thread copies, even from cache, so no term of the bound can
  // exceed the step's real time: the fraction stays at or below 1 (up to timing noise).
  static ProbeResult synthetic_probe() {
    ProbeResult p;
    p.device = "cpu";
    p.h2d_bps = 400e9;
    p.d2h_bps = 400e9;
    p.managed_prefetch_bps = 300e9;
    p.fault_bps = 200e9;
    p.device_bps = 500e9;
    return p;
  }
  static GenerateResult run(Policy policy, const char* budget, bool probe, int n = 4) {
    EngineConfig cfg;
    cfg.progress = false;
    cfg.pack_dir = dir_->string();
    cfg.policy = policy;
    if (budget) cfg.budget = parse_budget(budget, "--budget");
    if (probe) cfg.probe = synthetic_probe();
    Engine engine(*spec_, cfg);
    EXPECT_EQ(engine.timeline() != nullptr, probe) << "a probe (and only a probe, without --trace) records the timeline";
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
    EXPECT_GT(b.compute_s, 0) << "step " << i;
    EXPECT_LE(b.compute_s, b.measured_s * 1.01 + 1e-4) << "step " << i << ": the compute happens inside the step";
    EXPECT_GT(b.streamed_bytes, 0u) << "step " << i << ": 35% of the model cannot stay resident";
    EXPECT_GT(b.resident_bytes, 0u) << "step " << i;
    EXPECT_EQ(b.link_bps, p.h2d_bps) << "stream is bound by the h2d copy";
    EXPECT_EQ(b.memory_bps, p.device_bps);
    EXPECT_GT(b.fraction, 0) << "step " << i;
    EXPECT_LE(b.fraction, 1.5) << "step " << i;
    EXPECT_TRUE(b.limited_by == "compute" || b.limited_by == "link" || b.limited_by == "memory") << b.limited_by;
  }
  // Every pack is read once per step.
  EXPECT_EQ(st.steps[1].resident_bytes, st.steps[2].resident_bytes);
  EXPECT_EQ(st.bound_link_bps, p.h2d_bps);
  EXPECT_EQ(st.bound_memory_bps, p.device_bps);
  EXPECT_GT(st.decode_bound_fraction, 0);
  EXPECT_GT(st.prefill_bound_fraction, 0);
  EXPECT_FALSE(st.limited_by.empty());
  std::uint64_t streamed = 0;
  for (const StepBound& b : st.steps) streamed += b.streamed_bytes;
  EXPECT_EQ(streamed, st.bytes_h2d) << "the steps account for every byte moved";

  const nlohmann::json j = stats_json(st);
  ASSERT_TRUE(j["bound"].is_object());
  EXPECT_EQ(j["bound"]["steps"].size(), 5u);
  for (const char* k : {"link_bps", "memory_bps", "prefill_fraction", "decode_fraction", "limited_by"})
    EXPECT_TRUE(j["bound"].contains(k)) << k;
  for (const char* k : {"step", "measured_s", "compute_s", "streamed_bytes", "resident_bytes", "bound_s", "fraction",
                        "limited_by"})
    EXPECT_TRUE(j["bound"]["steps"][0].contains(k)) << k;
}

TEST_F(EngineBound, ResidentStepsAreMemoryBound) {
  const GenerateResult res = run(Policy::Resident, nullptr, true, 3);
  ASSERT_EQ(res.stats.steps.size(), 3u);
  for (const StepBound& b : res.stats.steps) {
    EXPECT_EQ(b.streamed_bytes, 0u);
    EXPECT_EQ(b.limited_by, "memory");
    EXPECT_GT(b.fraction, 0);
  }
  EXPECT_EQ(res.stats.limited_by, "memory");
}

TEST_F(EngineBound, UnifiedMemoryCountsFaultedPagesAsStreamed) {
  const GenerateResult res = run(Policy::UM, "35%", true, 3);
  ASSERT_EQ(res.stats.steps.size(), 3u);
  EXPECT_EQ(res.stats.bound_link_bps, synthetic_probe().fault_bps);
  for (const StepBound& b : res.stats.steps) EXPECT_GT(b.streamed_bytes, 0u) << "step " << b.step;
  // The first step faults in every pack (whole 2 MiB regions, at least the bytes it reads); later
  // steps only those that are not kept.
  EXPECT_GE(res.stats.steps[0].streamed_bytes, res.stats.steps[0].resident_bytes);
  EXPECT_LT(res.stats.steps[1].streamed_bytes, res.stats.steps[0].streamed_bytes);
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
