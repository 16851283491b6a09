// The bound every run is reported against (DESIGN.md): one step costs at least
//   max(compute_time, streamed_bytes / link_bandwidth, weight_bytes_read / memory_bandwidth)
// where compute_time (measured on the compute stream) only counts when weights were streamed in
// the step: it is then the question "did the copies hide behind the compute?". In a fully
// resident step the bound is the memory term alone, so a slow kernel cannot hide behind itself.
// A step's achieved fraction is bound / measured time (1.0 = at the limit).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "memory/probe.h"

namespace ferry {

struct StepBound {
  int step = 0;                      // 0 = prefill, 1.. decode
  double measured_s = 0;             // wall time of the step (host, after synchronisation)
  double compute_s = 0;              // time the compute stream spent computing (timeline)
  std::uint64_t streamed_bytes = 0;  // weight bytes moved host -> device during the step
  std::uint64_t resident_bytes = 0;  // weight bytes read from device memory during the step
  double link_bps = 0;               // probed, for the plan's policy
  double memory_bps = 0;             // probed device memory bandwidth
  double bound_s = 0;                // max(compute_s if streamed, streamed/link, read/memory)
  double fraction = 0;               // bound_s / measured_s
  std::string limited_by;            // "compute", "link" or "memory": which term is the bound
};

// Fills bound_s, fraction and limited_by from the other fields. A term whose bandwidth is 0 (not
// probed) is left out; ties go to memory, then link, then compute.
void finish_bound(StepBound& b);

// A run's steps in a few numbers (step 0 = prefill, the others decode).
struct BoundSummary {
  double prefill_fraction = 0;  // the fraction of step 0 (0 when absent)
  double decode_fraction = 0;   // median over the decode steps (0 when none)
  std::string limited_by;       // most common limit of the decode steps (of prefill when none); "" when no steps
};
BoundSummary summarize_bounds(const std::vector<StepBound>& steps);

// CPU `stream` copies each streamed pack out of the mmap'ed pack file: a memcpy from the page
// cache while the streamed packs fit in it, a read from the disk when they do not (every step scans
// the streamed packs in the same order, and an LRU cache smaller than the scan misses on every
// page). True when `streamed_bytes` exceed the room the cache has: the available RAM when the
// engine starts less the plan's peak.
bool cpu_stream_reads_disk(std::uint64_t streamed_bytes, std::uint64_t available_ram, std::uint64_t planned_peak);

// The link bandwidth of the bound for `policy` (memory/probe.h link_bandwidth), except that a CPU
// `stream` reading from disk is bound by the probe's file-read figure (fault_bps) when that is lower.
double bound_link_bps(const ProbeResult& probe, Policy policy, bool stream_reads_disk);

}  // namespace ferry
