// The CUDA probe (runs on a machine with a GPU; skips visibly without one or without CUDA).
#include <gtest/gtest.h>

#include <cmath>

#include "base/backend.h"
#include "memory/probe.h"

namespace ferry {
namespace {

TEST(ProbeCuda, MeasuresEveryBandwidthWithinTheDeviceMemory) {
  if (!cuda_compiled()) GTEST_SKIP() << "ferry was built without CUDA";
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  auto backend = make_backend(DeviceKind::CUDA, 0);
  const DeviceMemoryInfo mem = backend->memory_info();
  ProbeOptions opt;
  opt.bytes = std::uint64_t{64} << 20;
  opt.repeats = 3;
  const ProbeResult p = run_probe(*backend, opt);
  EXPECT_EQ(p.device, "cuda");
  EXPECT_EQ(p.device_name, backend->name());
  EXPECT_GT(p.bytes, 0u);
  EXPECT_LE(p.bytes, opt.bytes);
  EXPECT_LE(p.bytes, mem.free_bytes / 4) << "never more than a quarter of the free device memory";
  // Any PCIe / NVLink link moves more than 1 GB/s and less than 1 TB/s; HBM reads faster than 100 GB/s.
  for (const auto& [name, bps] : {std::pair<const char*, double>{"h2d", p.h2d_bps}, {"d2h", p.d2h_bps}}) {
    EXPECT_TRUE(std::isfinite(bps)) << name;
    EXPECT_GT(bps, 1e9) << name;
    EXPECT_LT(bps, 1e12) << name;
  }
  EXPECT_GT(p.fault_bps, 1e8);
  EXPECT_LT(p.fault_bps, 1e12);
  EXPECT_GE(p.managed_prefetch_bps, 0);  // 0 where concurrent managed access is missing
  EXPECT_LT(p.managed_prefetch_bps, 1e12);
  EXPECT_GT(p.device_bps, 1e11);
  EXPECT_LT(p.device_bps, 1e14);
  // The device's own memory is faster than the link to the host.
  EXPECT_GT(p.device_bps, p.h2d_bps);
}

}  // namespace
}  // namespace ferry
