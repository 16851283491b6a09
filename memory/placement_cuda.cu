// The CUDA placements of placement.h's table: resident device buffers, one managed region (um,
// um-prefetch) and, for stream, device-kept packs plus pinned host-tier and on-disk packs copied
// into a ring of device buffers.
//
// Managed memory advice, per policy (applied once to the whole region, see ManagedCuda):
//
// | policy      | ReadMostly | PreferredLocation | AccessedBy | why                                        |
// | ----------- | ---------- | ----------------- | ---------- | ------------------------------------------ |
// | um          | no         | none              | none       | the classic baseline is the driver's       |
// |             |            |                   |            | default: a GPU fault migrates the page to  |
// |             |            |                   |            | the device. PreferredLocation = host would |
// |             |            |                   |            | turn those faults into remote mappings of  |
// |             |            |                   |            | host memory (no migration) and AccessedBy  |
// |             |            |                   |            | would avoid the faults altogether: either  |
// |             |            |                   |            | measures something else than on-demand     |
// |             |            |                   |            | paging.                                    |
// | um-prefetch | no         | host              | the GPU    | pages move only when ferry prefetches      |
// |             |            |                   |            | them. Host is where they live between      |
// |             |            |                   |            | uses, so if the driver must evict under    |
// |             |            |                   |            | pressure they go there, and AccessedBy     |
// |             |            |                   |            | keeps the GPU's page tables pointing at    |
// |             |            |                   |            | them wherever they are: a kernel touching  |
// |             |            |                   |            | a page that is not on the device reads it  |
// |             |            |                   |            | over the link instead of faulting and      |
// |             |            |                   |            | thrashing. Neither advice stops            |
// |             |            |                   |            | cudaMemPrefetchAsync from moving pages.    |
//
// Why no ReadMostly, although the weights are read-only: with ReadMostly a prefetch to the device
// makes a read-only *duplicate* and leaves the host copy in place, and a prefetch back to the host
// does not drop the device duplicate ("it will create a read-only copy of the data on the
// destination processor", cudaMemAdvise / cudaMemPrefetchAsync in cuda_runtime_api.h); the driver
// drops duplicates only under memory pressure. Device-resident weight bytes would then no longer be
// bounded by the budget, which DESIGN.md makes a hard bound. Without ReadMostly there is one copy
// of each page: evict = cudaMemPrefetchAsync to the host migrates the pack back (a device -> host
// copy of the pack's bytes, reported as such) and frees its device pages.
//
// cudaMemPrefetchBatchAsync (CUDA 12.8+) prefetches several ranges in one call. Each fetch here is
// one pack, which is one contiguous 2 MiB aligned range, so a single cudaMemPrefetchAsync already
// is one call per fetch; a batch would only help if the pipeline issued several packs at once (the
// first k of a window) or packs were split (tensor-parallel shards). Not used.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "base/cuda_backend.h"
#include "base/error.h"
#include "base/units.h"
#include "memory/buffer.h"
#include "memory/pack_file.h"
#include "memory/placement_cuda.h"
#include "memory/stream_slots.h"

namespace ferry {

namespace {

void check_pack(const PlacementConfig& cfg, int pack, const char* op) {
  FERRY_CHECK(pack >= 0 && static_cast<std::size_t>(pack) < cfg.pack_bytes.size(),
              std::string(op) + ": pack " + std::to_string(pack) + " out of range");
}

cudaStream_t raw(Stream& s) {
  FERRY_CHECK(s.device() == DeviceKind::CUDA, "CUDA placement given a non-CUDA stream");
  return static_cast<cudaStream_t>(s.native_handle());
}

int current_device() {
  int d = 0;
  FERRY_CUDA(cudaGetDevice(&d));
  return d;
}

cudaMemLocation device_location(int device) {
  cudaMemLocation loc{};
  loc.type = cudaMemLocationTypeDevice;
  loc.id = device;
  return loc;
}

cudaMemLocation host_location() {
  cudaMemLocation loc{};
  loc.type = cudaMemLocationTypeHost;  // id is ignored for this type
  loc.id = 0;
  return loc;
}

// Loading packs into device buffers: the host fills one pinned staging buffer (the size of the
// largest pack it is asked to stage), copied to the device synchronously by end(); the staging
// buffer is freed once `count` packs were staged.
class StagedFill {
 public:
  StagedFill(std::size_t largest, std::size_t count) : largest_(largest), left_(count) {}
  std::byte* begin(int pack) {
    FERRY_CHECK(filling_ < 0, "fill_begin(" + std::to_string(pack) + ") while pack " + std::to_string(filling_) +
                                  " is being filled (one staging buffer)");
    if (staging_.empty()) staging_ = Buffer::allocate(DeviceKind::CUDA, BufferKind::Pinned, largest_);
    filling_ = pack;
    return staging_.bytes_ptr();
  }
  void end(int pack, void* device_dst, std::size_t n) {
    FERRY_CHECK(filling_ == pack, "fill_end(" + std::to_string(pack) + ") without fill_begin");
    if (n > 0) FERRY_CUDA(cudaMemcpy(device_dst, staging_.data(), n, cudaMemcpyHostToDevice));
    filling_ = -1;
    if (left_ > 0 && --left_ == 0) staging_ = Buffer();
  }

 private:
  std::size_t largest_, left_;
  Buffer staging_;  // pinned, [largest]
  int filling_ = -1;
};

// resident: every pack in its own cudaMalloc'd buffer, loaded through a StagedFill. fetch and
// evict move nothing.
class ResidentCuda final : public Placement {
 public:
  explicit ResidentCuda(const PlacementConfig& cfg)
      : cfg_(cfg), fill_(*std::max_element(cfg.pack_bytes.begin(), cfg.pack_bytes.end()), cfg.pack_bytes.size()) {
    for (std::size_t b : cfg_.pack_bytes) bufs_.push_back(Buffer::allocate(DeviceKind::CUDA, BufferKind::Device, b));
  }
  Policy policy() const override { return Policy::Resident; }
  std::byte* fill_begin(int pack) override {
    check_pack(cfg_, pack, "fill_begin");
    return fill_.begin(pack);
  }
  void fill_end(int pack) override {
    check_pack(cfg_, pack, "fill_end");
    const auto p = static_cast<std::size_t>(pack);
    fill_.end(pack, bufs_[p].data(), cfg_.pack_bytes[p]);
  }
  std::uint64_t fetch(int pack, int, Stream&) override {
    check_pack(cfg_, pack, "fetch");
    return 0;
  }
  std::uint64_t evict(int pack, int, Stream&) override {
    check_pack(cfg_, pack, "evict");
    return 0;
  }
  const std::byte* compute_ptr(int pack, int) const override {
    check_pack(cfg_, pack, "compute_ptr");
    return bufs_[static_cast<std::size_t>(pack)].bytes_ptr();
  }

 private:
  PlacementConfig cfg_;
  std::vector<Buffer> bufs_;
  StagedFill fill_;
};

// The managed region, counted while it lives: the guard compares every live managed allocation of
// the process (this one included) with the device's free memory, before allocating.
class ManagedAllocation {
 public:
  ManagedAllocation(Backend& backend, std::uint64_t bytes, const PlacementConfig& cfg) {
    std::lock_guard<std::mutex> lock(mutex());
    const DeviceMemoryInfo mi = backend.memory_info();
    check_managed_fits(live() + bytes, mi.free_bytes, cfg.gpu_mem_limit, cfg.allow_oversubscribe);
    buf_ = Buffer::allocate(DeviceKind::CUDA, BufferKind::Managed, static_cast<std::size_t>(bytes));
    live() += buf_.size();
  }
  ~ManagedAllocation() {
    std::lock_guard<std::mutex> lock(mutex());
    live() -= buf_.size();
  }
  ManagedAllocation(const ManagedAllocation&) = delete;
  ManagedAllocation& operator=(const ManagedAllocation&) = delete;
  std::byte* data() const { return buf_.bytes_ptr(); }

 private:
  static std::mutex& mutex() {
    static std::mutex m;
    return m;
  }
  static std::uint64_t& live() {
    static std::uint64_t bytes = 0;
    return bytes;
  }
  Buffer buf_;  // managed
};

int checked_managed_device(Policy policy) {
  const int device = current_device();
  int concurrent = 0;
  FERRY_CUDA(cudaDeviceGetAttribute(&concurrent, cudaDevAttrConcurrentManagedAccess, device));
  if (!concurrent)
    throw BadInput(std::string("--policy ") + policy_name(policy) + ": CUDA device " + std::to_string(device) +
                   " has no concurrent managed access (cudaDevAttrConcurrentManagedAccess = 0), so managed "
                   "pages cannot be prefetched or evicted; use --policy stream or resident");
  return device;
}

// um / um-prefetch: every pack at a 2 MiB aligned offset of one cudaMallocManaged region (so
// moving a pack never drags a neighbour's pages along). The host writes the packs in place while
// loading; the kernels read them at the same address.
class ManagedCuda final : public Placement {
 public:
  ManagedCuda(Backend& backend, const PlacementConfig& cfg)
      : cfg_(cfg),
        device_(checked_managed_device(cfg.policy)),
        region_(backend, managed_region_bytes(cfg.pack_bytes), cfg) {
    std::byte* base = region_.data();
    base += align_up(reinterpret_cast<std::uintptr_t>(base), kPackAlign) - reinterpret_cast<std::uintptr_t>(base);
    std::size_t off = 0;
    for (std::size_t b : cfg_.pack_bytes) {
      ptrs_.push_back(base + off);
      off += align_up(b, kPackAlign);
    }
    if (cfg_.policy == Policy::UMPrefetch && off > 0) {
      // See the advice table at the top of this file.
      FERRY_CUDA(cudaMemAdvise(base, off, cudaMemAdviseSetPreferredLocation, host_location()));
      FERRY_CUDA(cudaMemAdvise(base, off, cudaMemAdviseSetAccessedBy, device_location(device_)));
    }
  }
  Policy policy() const override { return cfg_.policy; }
  std::byte* fill_begin(int pack) override {
    check_pack(cfg_, pack, "fill_begin");
    return ptrs_[static_cast<std::size_t>(pack)];  // host writes to managed memory are fine
  }
  void fill_end(int pack) override { check_pack(cfg_, pack, "fill_end"); }
  std::uint64_t fetch(int pack, int, Stream& s) override {
    check_pack(cfg_, pack, "fetch");
    const std::size_t n = bytes(pack);
    // um: nothing is issued; the pages migrate on demand when the kernels first touch them, and
    // those are the bytes this residency window moves, so they are what it reports.
    if (cfg_.policy == Policy::UM) return n;
    if (n == 0) return 0;
    FERRY_CUDA(cudaMemPrefetchAsync(ptrs_[static_cast<std::size_t>(pack)], n, device_location(device_), 0, raw(s)));
    return n;
  }
  std::uint64_t evict(int pack, int, Stream& s) override {
    check_pack(cfg_, pack, "evict");
    const std::size_t n = bytes(pack);
    if (n == 0) return 0;
    // One copy of each page (no ReadMostly): the pack migrates back, device pages are freed.
    FERRY_CUDA(cudaMemPrefetchAsync(ptrs_[static_cast<std::size_t>(pack)], n, host_location(), 0, raw(s)));
    return n;
  }
  const std::byte* compute_ptr(int pack, int) const override {
    check_pack(cfg_, pack, "compute_ptr");
    return ptrs_[static_cast<std::size_t>(pack)];
  }

 private:
  std::size_t bytes(int pack) const { return cfg_.pack_bytes[static_cast<std::size_t>(pack)]; }

  PlacementConfig cfg_;
  int device_;
  ManagedAllocation region_;      // [managed_region_bytes(pack_bytes)]
  std::vector<std::byte*> ptrs_;  // per pack, 2 MiB aligned
};

// stream, over the three tiers (DESIGN.md): kept packs are loaded straight into device buffers of
// their own (through a StagedFill) and never move again; streamed host-tier packs live in pinned
// host memory, one buffer each; streamed disk-tier packs live in a pack file on disk and are
// pread() into a pinned staging buffer of their ring slot by a host callback on the copy stream,
// then copied to the device. Streamed packs share `slots` device ring buffers sized to the largest
// streamed pack. evict moves nothing: a slot (and its staging buffer) is reused by its next fetch,
// which the pipeline orders after the previous owner's compute (its done event), itself after that
// owner's copy.
class StreamCuda final : public Placement {
 public:
  StreamCuda(Backend& backend, const PlacementConfig& cfg) : backend_(backend), cfg_(cfg), fill_(0, 0) {
    std::size_t largest = 0, largest_kept = 0, kept = 0;
    bool any_disk = false;
    kept_.resize(cfg_.pack_bytes.size());
    host_.resize(cfg_.pack_bytes.size());
    for (std::size_t p = 0; p < cfg_.pack_bytes.size(); ++p) {
      const std::size_t b = cfg_.pack_bytes[p];
      const Tier t = tier(static_cast<int>(p));
      if (t == Tier::Device) {
        kept_[p] = Buffer::allocate(DeviceKind::CUDA, BufferKind::Device, b);
        largest_kept = std::max(largest_kept, b);
        ++kept;
        continue;
      }
      largest = std::max(largest, b);
      if (t == Tier::Host) host_[p] = Buffer::allocate(DeviceKind::CUDA, BufferKind::Pinned, b);
      any_disk = any_disk || t == Tier::Disk;
    }
    fill_ = StagedFill(largest_kept, kept);
    if (any_disk) file_ = std::make_unique<PackFile>(cfg_.pack_dir, cfg_.pack_bytes);
    if (largest > 0) {
      FERRY_CHECK(cfg_.slots > 0, "stream placement: streamed packs but no ring slots");
      for (int s = 0; s < cfg_.slots; ++s) {
        slots_.push_back(Buffer::allocate(DeviceKind::CUDA, BufferKind::Device, largest));
        if (any_disk) staging_.push_back(Buffer::allocate(DeviceKind::CUDA, BufferKind::Pinned, largest));
      }
    }
  }
  Policy policy() const override { return Policy::Stream; }
  std::byte* fill_begin(int pack) override {
    check_pack(cfg_, pack, "fill_begin");
    switch (tier(pack)) {
      case Tier::Device: return fill_.begin(pack);
      case Tier::Host: return host_[static_cast<std::size_t>(pack)].bytes_ptr();
      case Tier::Disk: break;
    }
    return file_->ptr(pack);
  }
  void fill_end(int pack) override {
    check_pack(cfg_, pack, "fill_end");
    const auto p = static_cast<std::size_t>(pack);
    if (tier(pack) == Tier::Device) fill_.end(pack, kept_[p].data(), cfg_.pack_bytes[p]);
    if (tier(pack) == Tier::Disk) file_->settle(pack, true);
  }
  std::uint64_t fetch(int pack, int slot, Stream& s) override {
    check_pack(cfg_, pack, "fetch");
    const std::size_t n = cfg_.pack_bytes[static_cast<std::size_t>(pack)];
    std::byte* dst = target(pack, slot);
    const Tier t = tier(pack);
    if (t == Tier::Device || n == 0) return 0;  // loaded onto the device, never moves
    const void* src = host_[static_cast<std::size_t>(pack)].data();
    if (t == Tier::Disk) {
      std::byte* stage = staging_[static_cast<std::size_t>(slot)].bytes_ptr();
      const PackFile* f = file_.get();
      backend_.host_callback(s, [f, pack, stage] {
        (void)f->read(pack, stage);
        f->release(pack, true);
      });
      src = stage;
    }
    FERRY_CUDA(cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, raw(s)));
    moved_ += n;  // a copy of a pinned buffer moves exactly its bytes
    return n;
  }
  std::uint64_t evict(int pack, int slot, Stream&) override {
    check_pack(cfg_, pack, "evict");
    (void)target(pack, slot);  // validates the slot
    return 0;
  }
  const std::byte* compute_ptr(int pack, int slot) const override {
    check_pack(cfg_, pack, "compute_ptr");
    return target(pack, slot);
  }
  std::uint64_t moved_bytes() const override { return moved_; }

 private:
  Tier tier(int pack) const {
    const auto p = static_cast<std::size_t>(pack);
    if (cfg_.keep[p]) return Tier::Device;
    return p < cfg_.tier.size() ? cfg_.tier[p] : Tier::Host;
  }
  std::byte* target(int pack, int slot) const { return stream_target(cfg_, kept_, slots_, pack, slot); }

  Backend& backend_;
  PlacementConfig cfg_;
  StagedFill fill_;
  std::vector<Buffer> kept_;     // device, per kept pack
  std::vector<Buffer> host_;     // pinned, per host-tier pack
  std::unique_ptr<PackFile> file_;  // disk-tier packs (null when none)
  std::vector<Buffer> slots_;    // device, [largest streamed pack] each
  std::vector<Buffer> staging_;  // pinned, one per slot, when some pack is on disk
  std::uint64_t moved_ = 0;      // issuing thread only
};

}  // namespace

std::unique_ptr<Placement> make_cuda_placement(Backend& backend, const PlacementConfig& cfg) {
  FERRY_CHECK(backend.kind() == DeviceKind::CUDA, "make_cuda_placement: not a CUDA backend");
  switch (cfg.policy) {
    case Policy::Resident: return std::make_unique<ResidentCuda>(cfg);
    case Policy::UM:
    case Policy::UMPrefetch: return std::make_unique<ManagedCuda>(backend, cfg);
    case Policy::Stream: return std::make_unique<StreamCuda>(backend, cfg);
    case Policy::Auto: break;
  }
  throw InternalError("make_cuda_placement: unresolved policy");
}

}  // namespace ferry
