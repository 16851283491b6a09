// CUPTI's Unified Memory counters (base/um_counters.h) on a real GPU: `um` under a budget faults
// its evicted pages back in on every step, so a run must count GPU page faults and host -> device
// migrations, and `resident` (cudaMalloc, no managed memory) must count none. Own executable: the
// counters are enabled before the process makes its first managed allocation.
#include <gtest/gtest.h>

#include "base/um_counters.h"
#include "tests/gpu/gpu_util.h"

namespace ferry {
namespace {

TEST(GpuUmCounters, UmUnderABudgetFaultsAndMigratesResidentDoesNot) {
  FERRY_REQUIRE_GPU();
  if (const std::string why = enable_um_counters(0); !why.empty())
    GTEST_SKIP() << "CUPTI Unified Memory counters are unavailable here: " << why;
  ASSERT_TRUE(um_counters_enabled());
  const ModelSpec spec = gputest::tiny_spec(6, 11);

  const UmCounts r0 = um_counts();
  gputest::run(spec, gputest::cuda_config(Policy::Resident));
  const UmCounts r1 = um_counts();
  EXPECT_EQ(r1.gpu_page_faults, r0.gpu_page_faults) << "resident weights are not managed";

  EngineConfig cfg = gputest::cuda_config(Policy::UM);
  cfg.budget = parse_budget("35%", "--budget");
  const UmCounts u0 = um_counts();
  gputest::run(spec, cfg);
  const UmCounts u1 = um_counts();
  EXPECT_GT(u1.gpu_page_faults, u0.gpu_page_faults);
  EXPECT_GT(u1.bytes_h2d, u0.bytes_h2d);
  EXPECT_GT(u1.bytes_d2h, u0.bytes_d2h) << "um at 35% evicts packs back to the host";
}

}  // namespace
}  // namespace ferry
