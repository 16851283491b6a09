// The CPU placements of DESIGN.md: resident RAM buffers, an mmap'ed pack file (um, um-prefetch)
// and a ring of RAM slots filled from the pack file with pread (stream). The "device" is the
// budgeted RAM of the process; the host tier is the page cache of the pack file the run may keep
// (host-tier packs); the disk tier is the pack file itself (disk-tier packs are dropped from the
// page cache behind each use). Evicting means dropping pages, never copying back.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/sysinfo.h"
#include "memory/buffer.h"
#include "memory/mapped_file.h"
#include "memory/pack_file.h"
#include "memory/placement_cpu.h"
#include "memory/stream_slots.h"

namespace ferry {

namespace {

void check_pack(const PlacementConfig& cfg, int pack, const char* op) {
  FERRY_CHECK(pack >= 0 && static_cast<std::size_t>(pack) < cfg.pack_bytes.size(),
              std::string(op) + ": pack " + std::to_string(pack) + " out of range");
}

// resident: every pack in its own RAM buffer, loaded once; fetch and evict move nothing.
class ResidentCpu final : public Placement {
 public:
  explicit ResidentCpu(const PlacementConfig& cfg) : cfg_(cfg) {
    for (std::size_t b : cfg_.pack_bytes) bufs_.push_back(Buffer::allocate(DeviceKind::CPU, BufferKind::Device, b));
  }
  Policy policy() const override { return Policy::Resident; }
  std::byte* fill_begin(int pack) override {
    check_pack(cfg_, pack, "fill_begin");
    return bufs_[static_cast<std::size_t>(pack)].bytes_ptr();
  }
  void fill_end(int pack) override { check_pack(cfg_, pack, "fill_end"); }
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
  std::vector<Region> weight_regions() const override {
    std::vector<Region> r;
    for (const Buffer& b : bufs_) r.push_back({b.bytes_ptr(), b.size(), false});
    return r;
  }

 private:
  PlacementConfig cfg_;
  std::vector<Buffer> bufs_;
};

// The tier of pack p between uses (Device for kept packs); Host when the config names none.
Tier tier_of(const PlacementConfig& cfg, int pack) {
  const auto p = static_cast<std::size_t>(pack);
  if (cfg.keep[p]) return Tier::Device;
  return p < cfg.tier.size() ? cfg.tier[p] : Tier::Host;
}

// um / um-prefetch: the compute reads the mapping of the pack file. um lets pages fault in on
// touch; um-prefetch advises WILLNEED and touches every page on a copy stream, so the pages are in
// RAM when the stream's next event fires. Kept packs are touched in once by their one fetch, on
// both. Evict unmaps the pack from the process, and drops it from the page cache too when its tier
// is the disk (a host-tier pack stays in the page cache, the host RAM the run may use).
class MmapCpu final : public Placement {
 public:
  MmapCpu(Backend& backend, const PlacementConfig& cfg) : backend_(backend), cfg_(cfg), file_(cfg.pack_dir, cfg.pack_bytes) {}
  Policy policy() const override { return cfg_.policy; }
  std::byte* fill_begin(int pack) override {
    check_pack(cfg_, pack, "fill_begin");
    return file_.ptr(pack);
  }
  void fill_end(int pack) override {
    check_pack(cfg_, pack, "fill_end");
    file_.settle(pack, tier_of(cfg_, pack) == Tier::Disk);
  }
  std::uint64_t fetch(int pack, int, Stream& s) override {
    check_pack(cfg_, pack, "fetch");
    const std::size_t n = file_.bytes(pack);
    // um: nothing is issued for a streamed pack; its pages fault in when the compute touches them
    // (evict counts them). The bytes returned are what this residency window will move.
    if (cfg_.policy == Policy::UM && !cfg_.keep[static_cast<std::size_t>(pack)]) return n;
    const MappedFile* m = &file_.map();
    const std::size_t off = file_.offset(pack);
    std::atomic<std::uint64_t>* moved = &moved_;
    const bool advise = cfg_.policy == Policy::UMPrefetch;
    backend_.host_callback(s, [m, off, n, moved, advise] {
      if (advise) m->advise_willneed(off, n);
      m->touch(off, n);
      moved->fetch_add(n, std::memory_order_relaxed);
    });
    return n;
  }
  std::uint64_t evict(int pack, int, Stream& s) override {
    check_pack(cfg_, pack, "evict");
    const PackFile* f = &file_;
    const bool drop = tier_of(cfg_, pack) == Tier::Disk;
    std::atomic<std::uint64_t>* moved = cfg_.policy == Policy::UM ? &moved_ : nullptr;
    backend_.host_callback(s, [f, pack, drop, moved] {
      // um: the pages the compute faulted in, read from the page tables before they are dropped.
      if (moved) moved->fetch_add(mapped_bytes(f->ptr(pack), f->bytes(pack)), std::memory_order_relaxed);
      f->release(pack, drop);
    });
    return 0;  // pages are dropped (the file holds them), not copied back
  }
  const std::byte* compute_ptr(int pack, int) const override {
    check_pack(cfg_, pack, "compute_ptr");
    return file_.ptr(pack);
  }
  std::uint64_t moved_bytes() const override { return moved_.load(std::memory_order_relaxed); }
  std::vector<Region> weight_regions() const override {
    return {{file_.map().data(), file_.map().size(), true}};
  }

 private:
  Backend& backend_;
  PlacementConfig cfg_;
  PackFile file_;
  std::atomic<std::uint64_t> moved_{0};
};

// stream: kept packs get a RAM buffer of their own (filled by their one fetch); streamed packs
// are read from the pack file into `slots` ring buffers sized to the largest streamed pack. Reads
// are pread()s, so no page of the pack file is ever mapped into the process: the only weight bytes
// resident in the process are the kept buffers and the ring. A pack read from the disk tier is
// dropped from the page cache behind the read; a host-tier pack stays in it.
class StreamCpu final : public Placement {
 public:
  StreamCpu(Backend& backend, const PlacementConfig& cfg) : backend_(backend), cfg_(cfg), file_(cfg.pack_dir, cfg.pack_bytes) {
    std::size_t largest = 0;
    kept_.resize(cfg_.pack_bytes.size());
    for (std::size_t p = 0; p < cfg_.pack_bytes.size(); ++p) {
      if (cfg_.keep[p])
        kept_[p] = Buffer::allocate(DeviceKind::CPU, BufferKind::Device, cfg_.pack_bytes[p]);
      else
        largest = std::max(largest, cfg_.pack_bytes[p]);
    }
    if (largest > 0) {
      FERRY_CHECK(cfg_.slots > 0, "stream placement: streamed packs but no ring slots");
      for (int s = 0; s < cfg_.slots; ++s) slots_.push_back(Buffer::allocate(DeviceKind::CPU, BufferKind::Device, largest));
    }
  }
  Policy policy() const override { return Policy::Stream; }
  std::byte* fill_begin(int pack) override {
    check_pack(cfg_, pack, "fill_begin");
    return file_.ptr(pack);
  }
  void fill_end(int pack) override {
    check_pack(cfg_, pack, "fill_end");
    file_.settle(pack, tier_of(cfg_, pack) == Tier::Disk);
  }
  std::uint64_t fetch(int pack, int slot, Stream& s) override {
    check_pack(cfg_, pack, "fetch");
    std::byte* dst = target(pack, slot);
    const PackFile* f = &file_;
    // A kept pack is read once: its pages in the page cache are not needed again.
    const bool drop = tier_of(cfg_, pack) != Tier::Host;
    std::atomic<std::uint64_t>* moved = &moved_;
    backend_.host_callback(s, [f, pack, dst, drop, moved] {
      moved->fetch_add(f->read(pack, dst), std::memory_order_relaxed);
      if (drop) f->release(pack, true);
    });
    return file_.bytes(pack);
  }
  std::uint64_t evict(int pack, int slot, Stream&) override {
    check_pack(cfg_, pack, "evict");
    (void)target(pack, slot);  // validates the slot
    return 0;  // the slot is simply overwritten by its next fetch
  }
  const std::byte* compute_ptr(int pack, int slot) const override {
    check_pack(cfg_, pack, "compute_ptr");
    return target(pack, slot);
  }
  std::uint64_t moved_bytes() const override { return moved_.load(std::memory_order_relaxed); }
  std::vector<Region> weight_regions() const override {
    std::vector<Region> r{{file_.map().data(), file_.map().size(), true}};
    for (const std::vector<Buffer>* v : {&kept_, &slots_})
      for (const Buffer& b : *v)
        if (!b.empty()) r.push_back({b.bytes_ptr(), b.size(), false});
    return r;
  }

 private:
  std::byte* target(int pack, int slot) const { return stream_target(cfg_, kept_, slots_, pack, slot); }

  Backend& backend_;
  PlacementConfig cfg_;
  PackFile file_;
  std::vector<Buffer> kept_;
  std::vector<Buffer> slots_;
  std::atomic<std::uint64_t> moved_{0};
};

}  // namespace

std::unique_ptr<Placement> make_cpu_placement(Backend& backend, const PlacementConfig& cfg) {
  switch (cfg.policy) {
    case Policy::Resident: return std::make_unique<ResidentCpu>(cfg);
    case Policy::UM:
    case Policy::UMPrefetch: return std::make_unique<MmapCpu>(backend, cfg);
    case Policy::Stream: return std::make_unique<StreamCpu>(backend, cfg);
    case Policy::Auto: break;
  }
  throw InternalError("make_cpu_placement: unresolved policy");
}

}  // namespace ferry
