// Checks of a run's Timeline shared by the CPU and GPU invariant tests.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "scheduler/timeline.h"

namespace ferry::test {

// Every compute of pack p starts after the end of a prefetch of p, with no evict of p in between,
// and there are blocks x passes computes.
inline void expect_compute_after_prefetch(const std::vector<TimelineRecord>& tl, int blocks, int passes,
                                          const std::string& what) {
  int computes = 0;
  for (const TimelineRecord& c : tl) {
    if (c.kind != TimelineKind::Compute) continue;
    ++computes;
    double last_fetch_end = -1, last_evict = -1;
    for (const TimelineRecord& r : tl) {
      if (r.pack != c.pack) continue;
      if (r.kind == TimelineKind::Prefetch && r.end_us <= c.begin_us) last_fetch_end = std::max(last_fetch_end, r.end_us);
      if (r.kind == TimelineKind::Evict && r.begin_us <= c.begin_us) last_evict = std::max(last_evict, r.begin_us);
    }
    EXPECT_GE(last_fetch_end, 0) << what << ": compute of pack " << c.pack << " step " << c.step
                                 << " has no finished prefetch before it";
    EXPECT_GE(last_fetch_end, last_evict) << what << ": pack " << c.pack << " step " << c.step
                                          << " was evicted after its last prefetch and before its compute";
  }
  EXPECT_EQ(computes, blocks * passes) << what << ": " << blocks << " blocks x " << passes << " passes";
}

}  // namespace ferry::test
