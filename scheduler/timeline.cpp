// Timeline: intervals on stream lanes, timed by backend events, written as Chrome trace JSON.
#include "scheduler/timeline.h"

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <map>
#include <utility>

#include <nlohmann/json.hpp>

#ifdef FERRY_HAVE_CUDA
#include <nvtx3/nvToolsExt.h>
#endif

#include "base/error.h"

namespace ferry {

const char* timeline_kind_name(TimelineKind k) {
  switch (k) {
    case TimelineKind::Prefetch: return "prefetch";
    case TimelineKind::Compute: return "compute";
    case TimelineKind::Evict: return "evict";
    case TimelineKind::Other: return "other";
  }
  return "?";
}

struct Timeline::Pending {
  TimelineRecord rec;
  std::unique_ptr<Event> begin, end;
  std::uint64_t nvtx = 0;  // NVTX range id (CUDA builds), 0 when none
};

// NVTX (CUDA builds): every interval is also an NVTX range of the same name, so a run opens in
// Nsight Systems with ferry's names. The range starts in begin() and ends in end(), i.e. it marks
// when the host *enqueued* the work, not when the device ran it: the device times come from the
// CUDA events (resolve(), the Chrome trace). nvtxRangeStartEx / nvtxRangeEnd rather than
// nvtxRangePush / Pop, because ranges of different streams overlap and do not nest.
namespace {

#ifdef FERRY_HAVE_CUDA
std::uint64_t nvtx_start(TimelineKind kind, int step, const std::string& name) {
  static constexpr std::uint32_t kColors[] = {0xFF1F77B4, 0xFF2CA02C, 0xFFFF7F0E, 0xFF7F7F7F};  // by kind
  nvtxEventAttributes_t a{};
  a.version = NVTX_VERSION;
  a.size = NVTX_EVENT_ATTRIB_STRUCT_SIZE;
  a.category = static_cast<std::uint32_t>(kind) + 1;
  a.colorType = NVTX_COLOR_ARGB;
  a.color = kColors[static_cast<int>(kind)];
  a.payloadType = NVTX_PAYLOAD_TYPE_INT32;
  a.payload.iValue = step;
  a.messageType = NVTX_MESSAGE_TYPE_ASCII;
  a.message.ascii = name.c_str();
  return nvtxRangeStartEx(&a);
}
void nvtx_end(std::uint64_t id) {
  if (id != 0) nvtxRangeEnd(id);
}
#else
std::uint64_t nvtx_start(TimelineKind, int, const std::string&) { return 0; }
void nvtx_end(std::uint64_t) {}
#endif

}  // namespace

Timeline::Timeline(Backend& backend) : backend_(backend), origin_(backend.create_event(true)) {
  // A private stream, so the origin marks "now" rather than the end of someone's queue.
  auto s = backend_.create_stream(-1);
  origin_->record(*s);
  s->synchronize();
}

Timeline::~Timeline() = default;

int Timeline::begin(TimelineKind kind, int pack, int step, Stream& s, std::string name) {
  auto p = std::make_unique<Pending>();
  p->rec.kind = kind;
  p->rec.pack = pack;
  p->rec.step = step;
  p->rec.stream = s.id();
  p->rec.name = std::move(name);
  p->begin = backend_.create_event(true);
  p->begin->record(s);
  p->nvtx = nvtx_start(kind, step, p->rec.name);
  pending_.push_back(std::move(p));
  return static_cast<int>(pending_.size()) - 1;
}

void Timeline::end(int token, Stream& s) {
  FERRY_CHECK(token >= 0 && token < static_cast<int>(pending_.size()), "Timeline::end: unknown token");
  FERRY_CHECK(pending_[static_cast<std::size_t>(token)] != nullptr, "Timeline::end: interval already resolved");
  Pending& p = *pending_[static_cast<std::size_t>(token)];
  FERRY_CHECK(!p.end, "Timeline::end: interval '" + p.rec.name + "' ended twice");
  p.end = backend_.create_event(true);
  p.end->record(s);
  nvtx_end(p.nvtx);
}

void Timeline::resolve() {
  // Resolved entries leave a null behind, so tokens of intervals still open stay valid.
  for (auto& p : pending_) {
    if (!p || !p->end) continue;
    TimelineRecord r = p->rec;
    r.begin_us = p->begin->elapsed_ms_since(*origin_) * 1000.0;
    r.end_us = p->end->elapsed_ms_since(*origin_) * 1000.0;
    records_.push_back(std::move(r));
    p.reset();
  }
}

void Timeline::write_chrome_trace(const std::string& path) const {
  using nlohmann::json;
  json events = json::array();
  std::map<int, bool> lanes;
  for (const auto& r : records_) {
    lanes[r.stream] = true;
    events.push_back({{"name", r.name},
                      {"cat", timeline_kind_name(r.kind)},
                      {"ph", "X"},
                      {"ts", r.begin_us},
                      {"dur", std::max(0.0, r.end_us - r.begin_us)},
                      {"pid", 0},
                      {"tid", r.stream},
                      {"args", {{"pack", r.pack}, {"step", r.step}}}});
  }
  for (const auto& [id, unused] : lanes) {
    (void)unused;
    const std::string lane = id == 0 ? "compute" : id > 0 ? "copy " + std::to_string(id) : "stream " + std::to_string(id);
    events.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", 0}, {"tid", id}, {"args", {{"name", lane}}}});
  }
  json doc = {{"traceEvents", std::move(events)}, {"displayTimeUnit", "ms"}};
  std::ofstream f(path);
  if (!f) throw BadInput("cannot write the trace " + path);
  f << doc.dump(1) << '\n';
  if (!f) throw BadInput("cannot write the trace " + path);
}

}  // namespace ferry
