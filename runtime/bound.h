// The bound every run is reported against (DESIGN.md, "The limit we measure against"). One bound per
// run, the same for every policy: the machine's limits, never ferry's own speed or a policy's own
// mechanism.
//   compute_s = the step's FLOPs / the probed GEMM peak (flops_per_s)
//   link_s    = max(streamed bytes / link (pinned H2D copy; CPU: RAM memcpy),
//                   bytes that were on disk / the probed disk read bandwidth)
//   memory_s  = bytes the step must read (every weight byte, the KV cache), less what the largest
//               cache can hold, / memory bandwidth
//   bound_s   = max(compute_s, link_s, memory_s); fraction = bound_s / measured wall time.
// The streamed bytes are measured as they moved (Placement::moved_bytes, CUPTI under CUDA managed
// memory), and the disk part by the kernel's I/O accounting (/proc/self/io). ferry's own compute
// time (from the timeline, when one is recorded) is reported beside the bound, never used as it.
// A fraction above 1.0 means the probe is wrong, by more than its noise (ProbeResult::noise).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "memory/probe.h"

namespace ferry {

struct StepBound {
  int step = 0;                      // 0 = prefill, 1.. decode
  double measured_s = 0;             // wall time of the step (host, after synchronisation)
  double flops = 0;                  // the step's arithmetic (a multiply-add is 2)
  std::uint64_t streamed_bytes = 0;  // weight bytes moved to the compute tier during the step (measured)
  std::uint64_t disk_bytes = 0;      // bytes read from storage during the step (/proc/self/io)
  std::uint64_t read_bytes = 0;      // bytes the step must read from device memory (weights, KV cache)
  bool streamed_measured = true;     // false: streamed_bytes were counted as issued, not measured
  double flops_per_s = 0, link_bps = 0, disk_bps = 0, memory_bps = 0;  // probed
  // Bytes a cache may serve (ProbeResult::cache_bytes): left out of the memory term, and of the
  // link term when the link is a RAM copy (the CPU).
  std::uint64_t memory_cache_bytes = 0, link_cache_bytes = 0;
  double compute_s = 0, link_s = 0, memory_s = 0;  // the three terms
  double bound_s = 0;                // max of the terms
  double fraction = 0;               // bound_s / measured_s
  std::string limited_by;            // "compute", "link" or "memory": which term is the bound
  double ferry_compute_s = -1;       // ferry's compute time in the step (timeline); -1 when not recorded
};

// Fills the terms, bound_s, fraction and limited_by from the other fields. A term whose rate is 0
// (not probed) is left out; ties go to memory, then link, then compute.
void finish_bound(StepBound& b);

// A run's steps in a few numbers (step 0 = prefill, the others decode).
struct BoundSummary {
  double prefill_fraction = 0;  // the fraction of step 0 (0 when absent)
  double decode_fraction = 0;   // median over the decode steps (0 when none)
  double max_fraction = 0;      // the largest fraction of any step
  std::string limited_by;       // most common limit of the decode steps (of prefill when none); "" when no steps
};
BoundSummary summarize_bounds(const std::vector<StepBound>& steps);

}  // namespace ferry
