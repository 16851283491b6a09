// LayerPipeline: per step, for each block i:
//   wait(ready[i]) -> compute(i) -> record done[i] -> evict(i) after done[i] -> prefetch(i+k)
// with the prefetches on the copy streams (round-robin), the compute on the compute stream, and
// events between them. Nothing blocks the host inside a step. Residency accounting is updated as
// the work is issued, in the order the streams execute it, so the budget holds at every point.
// Across steps the window wraps: the last blocks of step n prefetch the first blocks of step n+1.
#pragma once
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

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::vector<std::unique_ptr<Stream>> streams_;
  int num_blocks_ = 0;
};

}  // namespace ferry
