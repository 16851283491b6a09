// GPU page faults and migrations of CUDA managed memory, counted by CUPTI's Unified Memory
// counters (the same source Nsight Systems' --cuda-um-gpu-page-faults uses). getrusage sees only
// host page faults, so this is the only way to count the GPU's faults on unified memory.
//
// Counting is per process and has a cost (a record per fault group), so it is opt-in
// (`ferry pressure --gpu-page-faults`) and must be enabled before the first managed allocation.
// Built without CUDA, enable_um_counters() says so and nothing is counted.
#pragma once
#include <cstdint>
#include <string>

namespace ferry {

struct UmCounts {
  std::uint64_t gpu_page_faults = 0;  // GPU page fault records (a fault group per page each)
  std::uint64_t bytes_h2d = 0;        // bytes the driver migrated host -> device
  std::uint64_t bytes_d2h = 0;        // and device -> host
};

// Starts counting for CUDA device `device`. Returns "" when counting, else why it cannot (no
// CUDA in this build, no device, CUPTI refuses Unified Memory profiling on this machine).
std::string enable_um_counters(int device);
bool um_counters_enabled();
// Totals since enable_um_counters(), after flushing CUPTI's buffers; zeros when not enabled.
UmCounts um_counts();

// Adds a record's counter value to `c` (CUPTI counter kind as an int; unknown kinds are ignored).
// Split out so that the accounting is tested without a GPU.
void add_um_record(UmCounts& c, int counter_kind, std::uint64_t value);

}  // namespace ferry
