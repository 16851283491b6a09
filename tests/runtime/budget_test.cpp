// device_budget (runtime/budget.cpp): the user's --budget resolved and capped at what the device
// holds, with fake device memory so that both backends' rules are checked on any machine.
#include <gtest/gtest.h>

#include <limits>

#include "runtime/engine.h"

namespace ferry {
namespace {

constexpr std::uint64_t GiB = std::uint64_t{1} << 30;
constexpr std::uint64_t kUnset = std::numeric_limits<std::uint64_t>::max();

DeviceMemoryInfo mem(std::uint64_t free_bytes) {
  DeviceMemoryInfo m;
  m.total_bytes = free_bytes + GiB;
  m.free_bytes = free_bytes;
  return m;
}

EngineConfig config(DeviceKind device, const char* budget) {
  EngineConfig c;
  c.device = device;
  if (budget) c.budget = parse_budget(budget, "--budget");
  return c;
}

TEST(DeviceBudget, CpuModelThatFitsIsNotCapped) {
  std::vector<std::string> notes;
  EXPECT_EQ(device_budget(config(DeviceKind::CPU, nullptr), mem(22 * GiB), 6 * GiB, 0, notes), kUnset);
  EXPECT_EQ(device_budget(config(DeviceKind::CPU, "50%"), mem(22 * GiB), 6 * GiB, 0, notes), 3 * GiB);
  EXPECT_EQ(device_budget(config(DeviceKind::CPU, "20GiB"), mem(22 * GiB), 48 * GiB, 0, notes), 20 * GiB);
  EXPECT_TRUE(notes.empty());
}

TEST(DeviceBudget, CpuModelLargerThanRamIsCappedWithANote) {
  std::vector<std::string> notes;
  // 48 GiB of weights on a machine with 22 GiB available: no budget and 100% both become the
  // available RAM less the headroom, so the planner streams instead of allocating 48 GiB.
  EXPECT_EQ(device_budget(config(DeviceKind::CPU, nullptr), mem(22 * GiB), 48 * GiB, 0, notes), 22 * GiB - kCpuHeadroomBytes);
  EXPECT_EQ(device_budget(config(DeviceKind::CPU, "100%"), mem(22 * GiB), 48 * GiB, 0, notes), 22 * GiB - kCpuHeadroomBytes);
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_EQ(notes[0], "no --budget: capped at the available RAM less 2.00 GiB of headroom, 20.00 GiB");
  EXPECT_EQ(notes[1], "--budget 100%: capped at the available RAM less 2.00 GiB of headroom, 20.00 GiB");
  // 25% (12 GiB) fits: unchanged.
  EXPECT_EQ(device_budget(config(DeviceKind::CPU, "25%"), mem(22 * GiB), 48 * GiB, 0, notes), 12 * GiB);
  EXPECT_EQ(notes.size(), 2u);
}

TEST(DeviceBudget, CpuWithLessRamThanTheHeadroomCapsAtZero) {
  std::vector<std::string> notes;
  EXPECT_EQ(device_budget(config(DeviceKind::CPU, "1GiB"), mem(GiB), 4 * GiB, 0, notes), 0u);
  EXPECT_EQ(notes.size(), 1u);
}

TEST(DeviceBudget, UnknownFreeMemoryCapsNothing) {
  std::vector<std::string> notes;
  EXPECT_EQ(device_budget(config(DeviceKind::CPU, "100%"), mem(0), 48 * GiB, 0, notes), 48 * GiB);
  EXPECT_TRUE(notes.empty());
}

TEST(DeviceBudget, CudaPercentGetsTheReserveOnTopAndIsCappedAtTheFreeMemory) {
  std::vector<std::string> notes;
  EXPECT_EQ(device_budget(config(DeviceKind::CUDA, "50%"), mem(80 * GiB), 20 * GiB, GiB, notes), 11 * GiB);
  EXPECT_EQ(device_budget(config(DeviceKind::CUDA, "12GiB"), mem(80 * GiB), 20 * GiB, GiB, notes), 12 * GiB);
  EXPECT_TRUE(notes.empty());
  EXPECT_EQ(device_budget(config(DeviceKind::CUDA, "100%"), mem(16 * GiB), 20 * GiB, GiB, notes), 16 * GiB);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0], "--budget 100%: capped at the device's free memory 16.00 GiB");
}

TEST(DeviceBudget, CudaGpuMemLimitCapsWhenSmaller) {
  std::vector<std::string> notes;
  EngineConfig c = config(DeviceKind::CUDA, nullptr);
  c.gpu_mem_limit = 8 * GiB;
  EXPECT_EQ(device_budget(c, mem(80 * GiB), 20 * GiB, GiB, notes), 8 * GiB);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0], "no --budget: capped at --gpu-mem-limit 8.00 GiB");
  c.gpu_mem_limit = 100 * GiB;  // larger than the free memory: the free memory caps
  EXPECT_EQ(device_budget(c, mem(10 * GiB), 20 * GiB, GiB, notes), 10 * GiB);
}

}  // namespace
}  // namespace ferry
