// LayerPipeline: per step, for each block i:
//   wait(ready[i]) -> compute(i) -> record done[i] -> evict(i) after done[i] -> prefetch(i+k)
// with the prefetches on the copy streams (round-robin), the compute on the compute stream, and
// events between them. Nothing blocks the host inside a step. Residency accounting is updated as
// the work is issued, in the order the streams execute it, so the budget holds at every point.
// Across steps the window wraps: the last blocks of step n prefetch the first blocks of step n+1.
//
// Failures. An error in the work (a fetch, an evict or a compute task) surfaces at synchronize();
// an error on the host (a placement or the residency refusing) leaves run_step() mid-way. Either
// way work may still be queued on the streams, and the ring and residency state describe a step
// that did not finish. The caller keeps a FailureGuard alive while its own buffers are in use by
// the streams: if the guard is destroyed by an exception, it calls recover(), which drains every
// stream before the caller's buffers go and restarts the pipeline from an empty ring.
#pragma once
#include <exception>
#include <functional>
#include <memory>
#include <vector>

#include "base/backend.h"
#include "memory/placement.h"
#include "memory/residency.h"
#include "scheduler/planner.h"
#include "scheduler/timeline.h"

namespace ferry {

class LayerPipeline {
 public:
  // timeline may be null. Creates plan.streams streams: id 0 compute, 1.. copy.
  LayerPipeline(Backend& backend, const Plan& plan, Placement& placement, Residency& residency,
                Timeline* timeline);
  ~LayerPipeline();  // synchronizes its streams; never throws

  Stream& compute_stream() { return *streams_[0]; }
  int num_blocks() const { return num_blocks_; }

  // Pack 0 (embeddings, final norm, head): fetched once, kept. Returns its compute address; the
  // compute stream is ordered after its fetch.
  const std::byte* static_pack();

  // block: 0-based block index; weights: compute address of pack block+1; s: the compute stream.
  using BlockFn = std::function<void(int block, const std::byte* weights, Stream& s)>;
  // Issues one pass over every block. `another_step_follows` lets the window wrap into the next
  // step. `step` labels the timeline (0 = prefill). Returns at once; synchronize() waits.
  void run_step(int step, const BlockFn& fn, bool another_step_follows);
  void synchronize();  // all streams; rethrows errors from the work

  // After a failure: waits for every stream (their errors are dropped: the caller already holds
  // the one it reports), evicts every pack the residency holds and forgets the ring, so the next
  // step runs as on a fresh pipeline. Never throws: when the streams cannot be drained twice in a
  // row or a pack cannot be evicted, the pipeline is marked unusable and check_usable(),
  // static_pack() and run_step() throw InternalError saying why from then on.
  void recover() noexcept;
  // Throws InternalError when an earlier recover() failed.
  void check_usable() const;

  // Calls recover() when destroyed by unwinding (an exception leaving the caller's scope); does
  // nothing on a normal exit. Declare it after the buffers the queued work uses, so it runs first.
  class FailureGuard {
   public:
    explicit FailureGuard(LayerPipeline& p) : pipe_(p), uncaught_(std::uncaught_exceptions()) {}
    ~FailureGuard() {
      if (std::uncaught_exceptions() > uncaught_) pipe_.recover();
    }
    FailureGuard(const FailureGuard&) = delete;
    FailureGuard& operator=(const FailureGuard&) = delete;

   private:
    LayerPipeline& pipe_;
    int uncaught_;
  };

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::vector<std::unique_ptr<Stream>> streams_;
  int num_blocks_ = 0;
};

}  // namespace ferry
