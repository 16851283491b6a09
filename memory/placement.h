// Placement: where the packs of one model live, and how a pack is moved to the compute tier and
// back, for one policy on one backend. The LayerPipeline decides *when*; a Placement does *how*.
//
//                 CPU backend                                   CUDA backend (placement_cuda.cu)
// resident    packs in RAM buffers                           packs in device memory
// um          packs in an mmap'ed pack file; fetch = nothing     managed memory; fetch = nothing
//             (pages fault in on touch); evict = DONTNEED         (pages fault in); evict = prefetch to host
// um-prefetch mmap'ed; fetch = WILLNEED + touch on a copy     managed; fetch = cudaMemPrefetchAsync to
//             stream; evict = DONTNEED                         the device; evict = prefetch to host
// stream      mmap'ed source; fetch = memcpy into a ring slot  pinned host; cudaMemcpyAsync into a slot
//
// Packs the plan keeps resident ("kept") get a place of their own and are never evicted; the other
// ("streamed") packs share `slots` ring slots (stream) or the budget (um, um-prefetch).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/backend.h"
#include "memory/policy.h"

namespace ferry {

struct PlacementConfig {
  Policy policy = Policy::Resident;   // never Auto here (the planner resolves it)
  std::vector<std::size_t> pack_bytes;  // region size of each pack (PackLayout::bytes())
  std::vector<bool> keep;               // per pack: kept resident once fetched
  std::vector<Tier> tier;               // per pack: where it lives between uses (Plan::tier); empty = host
  int slots = 0;                        // ring slots for streamed packs (stream policy)
  std::string pack_dir;                 // where the CPU mmap tiers put their unnamed pack file
  // CUDA um / um-prefetch: the managed weights may exceed the device's free memory (can hang
  // some machines; the budget is the safe way to apply pressure).
  bool allow_oversubscribe = false;
  std::uint64_t gpu_mem_limit = 0;      // CUDA: treat the device as having this many bytes (0 = all)
};

class Placement {
 public:
  virtual ~Placement() = default;
  virtual Policy policy() const = 0;

  // Loading. The host copy of pack i, writable; fill_end(i) may write it back and drop it from RAM
  // (so loading streams: peak RSS stays near one pack for the mmap tiers).
  virtual std::byte* fill_begin(int pack) = 0;
  virtual void fill_end(int pack) = 0;

  // Enqueued on s. `slot` is the ring slot for streamed packs, -1 for kept packs.
  // fetch returns the bytes it moves host -> device (for um: the bytes that will fault in on touch).
  virtual std::uint64_t fetch(int pack, int slot, Stream& s) = 0;
  // evict returns the bytes it moves device -> host (0 when pages are dropped, not copied).
  virtual std::uint64_t evict(int pack, int slot, Stream& s) = 0;
  // The address the compute reads the pack at while it is fetched (valid once fetch completed).
  virtual const std::byte* compute_ptr(int pack, int slot) const = 0;

  // Weight bytes the fetches actually moved to the compute tier so far, counted as they ran, not
  // as they were issued: pread's byte counts (stream), the pages touched (CPU um-prefetch), the
  // pages the compute faulted into the process, read from the page tables when the pack is evicted
  // (CPU um). 0 where the placement cannot see the movement (CUDA managed memory: the Engine asks
  // CUPTI instead).
  virtual std::uint64_t moved_bytes() const { return 0; }

  // Where the weights are in this process's address space, for tests that measure residency from
  // outside ferry (mincore, /proc/self/smaps). file_backed: a mapping of the pack file. The CUDA
  // placements name none: device memory is measured with cudaMemGetInfo.
  struct Region {
    const std::byte* ptr = nullptr;
    std::size_t bytes = 0;
    bool file_backed = false;
  };
  virtual std::vector<Region> weight_regions() const { return {}; }
};

std::unique_ptr<Placement> make_placement(Backend& backend, const PlacementConfig& cfg);

}  // namespace ferry
