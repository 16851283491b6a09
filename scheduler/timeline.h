// Timeline: every prefetch / compute / evict of a run as an interval on a stream's lane, timed by
// backend events (device-side on CUDA), written as Chrome trace JSON (opens in Perfetto).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "base/backend.h"

namespace ferry {

enum class TimelineKind { Prefetch, Compute, Evict, Other };
const char* timeline_kind_name(TimelineKind k);  // "prefetch", "compute", "evict", "other"

struct TimelineRecord {
  TimelineKind kind = TimelineKind::Other;
  int pack = -1;     // -1 when not about a pack
  int step = 0;      // 0 = prefill, 1.. = decode steps
  int stream = 0;    // Stream::id()
  std::string name;  // "prefetch L3", "compute L3", "evict L1", "lm_head"
  double begin_us = 0, end_us = 0;  // from the timeline's origin
};

class Timeline {
 public:
  explicit Timeline(Backend& backend);  // records the origin on a private stream now
  ~Timeline();

  // Records a begin event on s now; end(token, s) records the matching end. Async, no host sync.
  int begin(TimelineKind kind, int pack, int step, Stream& s, std::string name);
  void end(int token, Stream& s);
  // Converts pending events to times; call after the streams involved were synchronized.
  void resolve();
  const std::vector<TimelineRecord>& records() const { return records_; }
  // Chrome trace format ("traceEvents", complete events "ph":"X", one tid per stream, named lanes).
  // Throws BadInput naming the path when it cannot be written.
  void write_chrome_trace(const std::string& path) const;

 private:
  struct Pending;
  Backend& backend_;
  std::unique_ptr<Event> origin_;
  std::vector<std::unique_ptr<Pending>> pending_;
  std::vector<TimelineRecord> records_;
};

}  // namespace ferry
