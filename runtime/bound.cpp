// finish_bound: the per-step bound of DESIGN.md ("The limit we measure against"), see bound.h.
#include "runtime/bound.h"

#include <algorithm>
#include <map>

namespace ferry {

void finish_bound(StepBound& b) {
  const double link = b.streamed_bytes > 0 && b.link_bps > 0 ? static_cast<double>(b.streamed_bytes) / b.link_bps : 0;
  const double memory = b.resident_bytes > 0 && b.memory_bps > 0 ? static_cast<double>(b.resident_bytes) / b.memory_bps : 0;
  // Compute only bounds a step that streamed: then the question is whether the copies hid behind it.
  const double compute = b.streamed_bytes > 0 ? std::max(b.compute_s, 0.0) : 0;
  b.bound_s = memory;
  b.limited_by = "memory";
  if (link > b.bound_s) {
    b.bound_s = link;
    b.limited_by = "link";
  }
  if (compute > b.bound_s) {
    b.bound_s = compute;
    b.limited_by = "compute";
  }
  b.fraction = b.measured_s > 0 ? b.bound_s / b.measured_s : 0;
}

BoundSummary summarize_bounds(const std::vector<StepBound>& steps) {
  BoundSummary sum;
  std::vector<double> decode;
  std::map<std::string, int> decode_limits, prefill_limits;
  for (const StepBound& b : steps) {
    if (b.step == 0) {
      sum.prefill_fraction = b.fraction;
      ++prefill_limits[b.limited_by];
    } else {
      decode.push_back(b.fraction);
      ++decode_limits[b.limited_by];
    }
  }
  if (!decode.empty()) {
    std::sort(decode.begin(), decode.end());
    const std::size_t m = decode.size() / 2;
    sum.decode_fraction = decode.size() % 2 ? decode[m] : 0.5 * (decode[m - 1] + decode[m]);
  }
  const auto& limits = decode_limits.empty() ? prefill_limits : decode_limits;
  int best = 0;
  for (const auto& [name, count] : limits)
    if (count > best) {
      best = count;
      sum.limited_by = name;
    }
  return sum;
}

bool cpu_stream_reads_disk(std::uint64_t streamed_bytes, std::uint64_t available_ram, std::uint64_t planned_peak) {
  if (available_ram == 0) return false;  // unknown: assume the cache holds it
  const std::uint64_t room = available_ram > planned_peak ? available_ram - planned_peak : 0;
  return streamed_bytes > room;
}

double bound_link_bps(const ProbeResult& probe, Policy policy, bool stream_reads_disk) {
  const double link = link_bandwidth(probe, policy);
  if (policy == Policy::Stream && stream_reads_disk && probe.fault_bps > 0 && probe.fault_bps < link)
    return probe.fault_bps;
  return link;
}

}  // namespace ferry
