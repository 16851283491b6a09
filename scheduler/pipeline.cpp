// LayerPipeline: issues fetch / compute / evict for every block of a step on the backend's streams,
// ordered by events, with the residency accounting updated in the order the streams execute it.
//
// Positions. Steps are numbered internally by run_step call (seq); block b of call seq is at global
// position seq*L + b. Streamed blocks (not kept) are numbered in global streamed order g, and block
// number g uses ring slot g mod slots: the ring carries on across steps, so the last blocks of a
// step prefetch the first blocks of the next. Before the compute of streamed block number C, the
// fetches of streamed blocks up to C + k (k = prefetch depth) are issued; the fetch of g reuses the
// slot of g - slots (= g - k - 1 at most C - 1), whose compute was therefore issued already: the
// copy stream waits for its done event, evicts it, then fetches g and records ready[g's block].
// Kept blocks are fetched once, when the fetch cursor first passes them, and never evicted.
#include "scheduler/pipeline.h"

#include <algorithm>
#include <string>

#include "base/error.h"

namespace ferry {

struct LayerPipeline::Impl {
  Impl(Backend& b, const Plan& p, Placement& pl, Residency& r, Timeline* t, std::vector<std::unique_ptr<Stream>>& s)
      : backend(b), plan(p), placement(pl), residency(r), timeline(t), streams(s) {}

  Backend& backend;
  Plan plan;
  Placement& placement;
  Residency& residency;
  Timeline* timeline;
  std::vector<std::unique_ptr<Stream>>& streams;

  int L = 0;                          // blocks
  int S = 0;                          // streamed blocks per step
  int slots = 0;                      // ring slots in use (<= S)
  int k = 0;                          // prefetch depth in streamed blocks (<= slots - 1)
  std::vector<bool> kept;             // per block
  std::vector<int> sidx;              // per block: index among the streamed blocks of a step, -1 if kept
  std::vector<std::unique_ptr<Event>> ready, done;  // per block
  std::vector<bool> kept_fetched;     // per block
  std::vector<int> cur_slot;          // per block: slot of its latest fetch
  std::vector<int> owner;             // per slot: block whose weights are in it, -1 when empty
  std::vector<int> owner_step;        // per slot: step label of the owner's fetch
  bool static_fetched = false;
  std::unique_ptr<Event> static_ready;
  long long seq = 0;                  // run_step calls so far
  long long fpos = 0;                 // next global position the fetch cursor considers
  long long computed = 0;             // streamed computes issued so far (C)
  unsigned next_copy = 0;
  bool unusable = false;              // recover() failed; `why` says how
  std::string why;

  Stream& compute() { return *streams[0]; }
  Stream& copy_stream() {
    if (streams.size() == 1) return compute();  // one stream: fetches run in compute order
    const auto n = static_cast<unsigned>(streams.size() - 1);
    return *streams[1 + (next_copy++ % n)];
  }

  int begin(TimelineKind kind, int pack, int step, Stream& s, const char* what, int block) {
    if (!timeline) return -1;
    return timeline->begin(kind, pack, step, s, std::string(what) + " L" + std::to_string(block));
  }
  void end(int token, Stream& s) {
    if (timeline) timeline->end(token, s);
  }

  void fetch_kept(int b, int step) {
    Stream& cs = copy_stream();
    const int pack = b + 1;
    const int tok = begin(TimelineKind::Prefetch, pack, step, cs, "prefetch", b);
    const std::uint64_t moved = placement.fetch(pack, -1, cs);
    residency.on_fetch(pack, moved);
    kept_fetched[static_cast<std::size_t>(b)] = true;  // at once: recover() must see what residency holds
    end(tok, cs);
    ready[static_cast<std::size_t>(b)]->record(cs);
  }

  void fetch_streamed(int b, int slot, int step) {
    Stream& cs = copy_stream();
    const auto si = static_cast<std::size_t>(slot);
    if (const int prev = owner[si]; prev >= 0) {
      // The slot's previous block must have finished computing before its place is reused.
      done[static_cast<std::size_t>(prev)]->wait_on(cs);
      const int tok = begin(TimelineKind::Evict, prev + 1, owner_step[si], cs, "evict", prev);
      const std::uint64_t moved = placement.evict(prev + 1, slot, cs);
      residency.on_evict(prev + 1, moved);
      owner[si] = -1;
      end(tok, cs);
    }
    const int pack = b + 1;
    const int tok = begin(TimelineKind::Prefetch, pack, step, cs, "prefetch", b);
    // The slot is noted before the residency, so recover() can evict whatever residency holds.
    cur_slot[static_cast<std::size_t>(b)] = slot;
    const std::uint64_t moved = placement.fetch(pack, slot, cs);
    residency.on_fetch(pack, moved);
    owner[si] = b;
    owner_step[si] = step;
    end(tok, cs);
    ready[static_cast<std::size_t>(b)]->record(cs);
  }

  // Advances the fetch cursor as far as the window allows, up to (not including) position `bound`.
  void issue_fetches(long long bound, int step) {
    while (fpos < bound) {
      const long long call = fpos / L;
      const int b = static_cast<int>(fpos % L);
      const int label = step + static_cast<int>(call - seq);
      if (kept[static_cast<std::size_t>(b)]) {
        if (!kept_fetched[static_cast<std::size_t>(b)]) fetch_kept(b, label);
        ++fpos;
        continue;
      }
      const long long g = call * S + sidx[static_cast<std::size_t>(b)];
      if (g > computed + k) break;
      fetch_streamed(b, static_cast<int>(g % slots), label);
      ++fpos;
    }
  }

  // recover(): returns every pack the residency holds, on the copy streams. Everything was drained
  // before, so no wait is needed; a streamed pack is in the slot of its latest fetch.
  void evict_all() {
    for (int p = 0; p < residency.packs(); ++p) {
      if (!residency.resident(p)) continue;
      const bool streamed = p > 0 && !kept[static_cast<std::size_t>(p) - 1];
      const int slot = streamed ? cur_slot[static_cast<std::size_t>(p) - 1] : -1;
      const std::uint64_t moved = placement.evict(p, slot, copy_stream());
      residency.on_evict(p, moved);
    }
    FERRY_CHECK(residency.resident_bytes() == 0, "LayerPipeline::recover: bytes still resident after evicting every pack");
  }

  // recover(): the state of a pipeline that has run nothing (the ring empty, the cursor at 0).
  void forget_ring() {
    std::fill(kept_fetched.begin(), kept_fetched.end(), false);
    std::fill(cur_slot.begin(), cur_slot.end(), -1);
    std::fill(owner.begin(), owner.end(), -1);
    std::fill(owner_step.begin(), owner_step.end(), 0);
    static_fetched = false;
    seq = fpos = computed = 0;
    next_copy = 0;
  }

  // Waits for every stream, dropping errors.
  void drain() noexcept {
    for (auto& s : streams) {
      try {
        s->synchronize();
      } catch (...) {  // reported by whoever called recover(), or by the clean pass after this one
      }
    }
  }

  void compute_block(int b, int step, const BlockFn& fn) {
    Stream& c = compute();
    const auto bi = static_cast<std::size_t>(b);
    ready[bi]->wait_on(c);
    const int tok = begin(TimelineKind::Compute, b + 1, step, c, "compute", b);
    fn(b, placement.compute_ptr(b + 1, kept[bi] ? -1 : cur_slot[bi]), c);
    end(tok, c);
    done[bi]->record(c);
    if (!kept[bi]) ++computed;
  }
};

LayerPipeline::LayerPipeline(Backend& backend, const Plan& plan, Placement& placement, Residency& residency,
                             Timeline* timeline) {
  FERRY_CHECK(!plan.keep.empty() && plan.keep[0], "LayerPipeline: pack 0 must be kept");
  FERRY_CHECK(static_cast<int>(plan.keep.size()) == residency.packs(),
              "LayerPipeline: plan and residency disagree on the number of packs");
  const int n = std::max(1, plan.streams);
  for (int i = 0; i < n; ++i) streams_.push_back(backend.create_stream(i));
  impl_ = std::make_unique<Impl>(backend, plan, placement, residency, timeline, streams_);
  Impl& m = *impl_;
  m.L = num_blocks_ = static_cast<int>(plan.keep.size()) - 1;
  for (int b = 0; b < m.L; ++b) {
    const bool kept = plan.keep[static_cast<std::size_t>(b) + 1];
    m.kept.push_back(kept);
    m.sidx.push_back(kept ? -1 : m.S++);
    m.ready.push_back(backend.create_event(false));
    m.done.push_back(backend.create_event(false));
  }
  m.kept_fetched.assign(static_cast<std::size_t>(m.L), false);
  m.cur_slot.assign(static_cast<std::size_t>(m.L), -1);
  if (m.S > 0) {
    FERRY_CHECK(plan.slots > 0, "LayerPipeline: " + std::to_string(m.S) + " blocks stream but the plan has no slots");
    m.slots = std::min(plan.slots, m.S);
    m.k = std::clamp(plan.depth, 0, m.slots - 1);
  }
  m.owner.assign(static_cast<std::size_t>(m.slots), -1);
  m.owner_step.assign(static_cast<std::size_t>(m.slots), 0);
  m.static_ready = backend.create_event(false);
}

LayerPipeline::~LayerPipeline() {
  // Destructors never throw; synchronize() is where errors are reported. Nothing queued can wait
  // forever: a failed CPU task skips the rest of its stream's work but still records its events.
  impl_->drain();
}

const std::byte* LayerPipeline::static_pack() {
  check_usable();
  Impl& m = *impl_;
  if (!m.static_fetched) {
    Stream& cs = m.copy_stream();
    const int tok = m.timeline ? m.timeline->begin(TimelineKind::Prefetch, 0, 0, cs, "prefetch static") : -1;
    const std::uint64_t moved = m.placement.fetch(0, -1, cs);
    m.residency.on_fetch(0, moved);
    m.static_fetched = true;
    m.end(tok, cs);
    m.static_ready->record(cs);
  }
  m.static_ready->wait_on(m.compute());
  return m.placement.compute_ptr(0, -1);
}

void LayerPipeline::run_step(int step, const BlockFn& fn, bool another_step_follows) {
  check_usable();
  Impl& m = *impl_;
  if (m.L == 0) {
    ++m.seq;
    return;
  }
  const long long base = m.seq * m.L;
  // A cursor left behind (the previous call said no step follows) starts at this step.
  m.fpos = std::max(m.fpos, base);
  const long long bound = base + m.L + (another_step_follows ? m.L : 0);
  for (int b = 0; b < m.L; ++b) {
    m.issue_fetches(bound, step);
    FERRY_CHECK(m.fpos > base + b, "LayerPipeline: block " + std::to_string(b) + " computed before its fetch");
    m.compute_block(b, step, fn);
  }
  ++m.seq;
}

void LayerPipeline::synchronize() {
  std::exception_ptr first;
  for (auto& s : streams_) {
    try {
      s->synchronize();
    } catch (...) {
      if (!first) first = std::current_exception();
    }
  }
  if (first) std::rethrow_exception(first);
}

void LayerPipeline::recover() noexcept {
  Impl& m = *impl_;
  m.drain();  // every queued task has run or been skipped: the caller's buffers are free to go
  if (m.unusable) return;
  try {
    // A second pass must be clean: an error now is not the step's (a task failing again, a
    // sticky CUDA error), and the device state can no longer be trusted.
    synchronize();
    m.evict_all();
    synchronize();
    m.forget_ring();
    return;
  } catch (const std::exception& e) {
    m.unusable = true;
    try {
      m.why = e.what();
    } catch (...) {  // no memory for the message: check_usable() still refuses
    }
  } catch (...) {
    m.unusable = true;
  }
  m.drain();  // whatever the failed attempt queued
}

void LayerPipeline::check_usable() const {
  if (impl_->unusable)
    throw InternalError("LayerPipeline: a failed step could not be undone (" +
                        (impl_->why.empty() ? std::string("unknown error") : impl_->why) +
                        "), so the weights' placement is unknown and this pipeline refuses further work; "
                        "destroy the Engine that owns it and create a new one");
}

}  // namespace ferry
