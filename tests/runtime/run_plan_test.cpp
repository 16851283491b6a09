// The one plan (runtime/run_plan.h) on fake machine memory: CUDA `auto` runs a model larger than
// the GPU (as many layers resident as fit, the rest streamed, never a managed allocation), the
// three tiers under --budget and --host-budget, and `inspect` showing the plan `run` uses.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/units.h"
#include "models/model_spec.h"
#include "runtime/run_plan.h"
#include "tests/support/test_util.h"

namespace ferry {
namespace {

constexpr std::uint64_t GiB = std::uint64_t{1} << 30;

MachineMemory fake(std::uint64_t device_free, std::uint64_t host_available) {
  MachineMemory m;
  m.device.free_bytes = m.device.total_bytes = device_free;
  m.host_available = host_available;
  return m;
}

EngineConfig cuda(Policy p = Policy::Auto) {
  EngineConfig c;
  c.device = DeviceKind::CUDA;
  c.policy = p;
  return c;
}

std::uint64_t sum(const std::vector<std::uint64_t>& v) {
  std::uint64_t s = 0;
  for (std::uint64_t x : v) s += x;
  return s;
}

std::uint64_t streamed_bytes(const Plan& p, const std::vector<std::uint64_t>& pack_bytes) {
  std::uint64_t n = 0;
  for (std::size_t i = 0; i < p.keep.size(); ++i)
    if (!p.keep[i]) n += pack_bytes[i];
  return n;
}

TEST(RunPlan, CudaAutoStreamsAModelLargerThanTheGpu) {
  const ModelSpec spec = load_model_spec("gpt3-6.7b");  // 12.5 GiB of f16 weights on CUDA
  const RunPlan rp = plan_run(spec, cuda(), fake(8 * GiB, 64 * GiB));
  const Plan& p = rp.plan;
  ASSERT_GT(sum(rp.pack_bytes), 8 * GiB);
  EXPECT_EQ(p.policy, Policy::Stream) << p.summary();
  EXPECT_GT(p.resident_layers, 0) << p.summary();
  EXPECT_GT(p.streamed_layers, 0) << p.summary();
  EXPECT_LE(p.planned_peak + rp.reserved_bytes, 8 * GiB) << p.summary();
  EXPECT_EQ(p.disk_bytes, 0u);
  EXPECT_EQ(p.host_bytes, streamed_bytes(p, rp.pack_bytes))
      << "the host tier holds exactly the streamed layers (pinned only what is not resident)";
  EXPECT_NE(p.summary().find("tiers: device "), std::string::npos) << p.summary();
}

TEST(RunPlan, GpuMemLimitIsTheDeviceWhenTheDeviceTellsNothing) {
  const ModelSpec spec = load_model_spec("gpt3-6.7b");
  EngineConfig c = cuda();
  c.gpu_mem_limit = 6 * GiB;
  const Plan p = plan_run(spec, c, fake(0, 64 * GiB)).plan;
  EXPECT_EQ(p.policy, Policy::Stream);
  EXPECT_LE(p.planned_peak + p.reserved_bytes, 6 * GiB) << p.summary();
}

TEST(RunPlan, BeyondTheHostBudgetLayersComeFromDisk) {
  const ModelSpec spec = load_model_spec("gpt3-6.7b");
  EngineConfig c = cuda();
  c.host_budget = parse_budget("1GiB", "--host-budget");
  const Plan p = plan_run(spec, c, fake(8 * GiB, 64 * GiB)).plan;
  EXPECT_LE(p.host_bytes, GiB);
  EXPECT_GT(p.disk_bytes, 0u);
  std::uint64_t host = 0, disk = 0;
  for (std::size_t i = 0; i < p.tier.size(); ++i) {
    if (p.keep[i]) {
      EXPECT_EQ(p.tier[i], Tier::Device) << i;
    }
    const std::uint64_t b = model_pack_bytes(spec, WeightsMode::Stored).at(i);
    if (p.tier[i] == Tier::Host) host += b;
    if (p.tier[i] == Tier::Disk) disk += b;
  }
  EXPECT_EQ(host, p.host_bytes);
  EXPECT_EQ(disk, p.disk_bytes);
  // The default host budget is the available RAM less 2 GiB: 3 GiB available leaves 1 GiB.
  const Plan q = plan_run(spec, cuda(), fake(8 * GiB, 3 * GiB)).plan;
  EXPECT_LE(q.host_bytes, GiB);
  EXPECT_GT(q.disk_bytes, 0u);
}

TEST(RunPlan, ManagedPoliciesHaveNoDiskTier) {
  const ModelSpec spec = load_model_spec("gpt3-6.7b");
  EngineConfig c = cuda(Policy::UMPrefetch);
  c.host_budget = parse_budget("0", "--host-budget", true);
  const Plan p = plan_run(spec, c, fake(8 * GiB, 64 * GiB)).plan;
  EXPECT_EQ(p.disk_bytes, 0u);
  EXPECT_GT(p.host_bytes, 0u);
}

TEST(RunPlan, CpuHostBudgetLeavesRoomForTheDeviceBudget) {
  const ModelSpec spec = load_model_spec("gpt2-xl");  // 5.84 GiB of f32 on the CPU
  EngineConfig c;
  c.budget = parse_budget("25%", "--budget");
  // 6 GiB available: less the 2 GiB headroom and the 1.46 GiB budget leaves 2.54 GiB for the cache.
  const Plan p = plan_run(spec, c, fake(6 * GiB, 6 * GiB)).plan;
  EXPECT_LE(p.host_bytes, 6 * GiB - 2 * GiB - p.budget);
  EXPECT_GT(p.disk_bytes, 0u);
  EXPECT_EQ(p.host_bytes + p.disk_bytes, streamed_bytes(p, model_pack_bytes(spec, WeightsMode::Stored)));
}

TEST(RunPlan, AHostBudgetAboveTheRamIsCappedWithANote) {
  const ModelSpec spec = load_model_spec("gpt3-6.7b");
  EngineConfig c = cuda();
  c.host_budget = parse_budget("100%", "--host-budget");
  const Plan p = plan_run(spec, c, fake(8 * GiB, 3 * GiB)).plan;
  EXPECT_LE(p.host_bytes, GiB);
  bool noted = false;
  for (const std::string& n : p.notes) noted = noted || n.find("--host-budget 100%: capped") != std::string::npos;
  EXPECT_TRUE(noted) << p.summary();
}

TEST(RunPlan, InspectShowsThePlanRunUses) {
  const auto dir = test::temp_dir("runplan");
  test::write_text(dir / "m.toml", test::tiny_toml(6, 3));
  const std::string common = " -m " + test::shell_quote(dir / "m.toml") + " --policy stream --budget 35% --pack-dir " +
                             test::shell_quote(dir);
  const test::CmdResult in = test::run_ferry("inspect --json" + common);
  const test::CmdResult run = test::run_ferry("run -q --no-probe -n 2 --json" + common);
  ASSERT_EQ(in.exit_code, 0) << in.err;
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const auto a = nlohmann::json::parse(in.out)["plan"], b = nlohmann::json::parse(run.out)["plan"];
  EXPECT_EQ(a["summary"], b["summary"]);
  EXPECT_EQ(a["tiers"], b["tiers"]);
  EXPECT_EQ(a["notes"], b["notes"]);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ferry
