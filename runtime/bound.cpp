// finish_bound: the per-step bound of DESIGN.md ("The limit we measure against"), see bound.h.
#include "runtime/bound.h"

#include <algorithm>
#include <map>

namespace ferry {

namespace {

double over(double amount, double rate) { return amount > 0 && rate > 0 ? amount / rate : 0; }
double beyond(std::uint64_t bytes, std::uint64_t cached) { return bytes > cached ? static_cast<double>(bytes - cached) : 0; }

}  // namespace

void finish_bound(StepBound& b) {
  b.compute_s = over(b.flops, b.flops_per_s);
  b.link_s = std::max(over(beyond(b.streamed_bytes, b.link_cache_bytes), b.link_bps),
                      over(static_cast<double>(b.disk_bytes), b.disk_bps));
  b.memory_s = over(beyond(b.read_bytes, b.memory_cache_bytes), b.memory_bps);
  b.bound_s = b.memory_s;
  b.limited_by = "memory";
  if (b.link_s > b.bound_s) {
    b.bound_s = b.link_s;
    b.limited_by = "link";
  }
  if (b.compute_s > b.bound_s) {
    b.bound_s = b.compute_s;
    b.limited_by = "compute";
  }
  b.fraction = b.measured_s > 0 ? b.bound_s / b.measured_s : 0;
}

BoundSummary summarize_bounds(const std::vector<StepBound>& steps) {
  BoundSummary sum;
  std::vector<double> decode;
  std::map<std::string, int> decode_limits, prefill_limits;
  for (const StepBound& b : steps) {
    sum.max_fraction = std::max(sum.max_fraction, b.fraction);
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

}  // namespace ferry
