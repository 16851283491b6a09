// The CPU placements of DESIGN.md: resident RAM buffers, an mmap'ed pack file (um, um-prefetch)
// and a ring of RAM slots filled from the pack file (stream). The "device" is RAM; the "host" tier
// is the pack file (page cache and disk), so evicting means dropping pages, never copying back.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "base/error.h"
#include "memory/buffer.h"
#include "memory/mapped_file.h"
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

 private:
  PlacementConfig cfg_;
  std::vector<Buffer> bufs_;
};

// One unnamed pack file holding every pack at a 2 MiB aligned offset: the mmap tier.
class PackFile {
 public:
  explicit PackFile(const PlacementConfig& cfg) {
    std::size_t total = 0;
    for (std::size_t b : cfg.pack_bytes) {
      offsets_.push_back(total);
      bytes_.push_back(b);
      total += align_up(b, kPackAlign);
    }
    map_ = MappedFile::create_temp(cfg.pack_dir, total);
  }
  std::byte* ptr(int pack) const { return map_.data() + offsets_[static_cast<std::size_t>(pack)]; }
  std::size_t offset(int pack) const { return offsets_[static_cast<std::size_t>(pack)]; }
  std::size_t bytes(int pack) const { return bytes_[static_cast<std::size_t>(pack)]; }
  const MappedFile& map() const { return map_; }
  // After loading a pack: write it to the file and drop it from RAM, so loading streams
  // (advise_dontneed writes dirty pages back before dropping them).
  void settle(int pack) const { map_.advise_dontneed(offset(pack), bytes(pack)); }

 private:
  std::vector<std::size_t> offsets_, bytes_;
  MappedFile map_;
};

// um / um-prefetch: the compute reads the mapping. um lets pages fault in on touch; um-prefetch
// advises WILLNEED and touches every page on a copy stream, so the pages are in RAM when the
// stream's next event fires. Both drop the pages (DONTNEED) on evict.
class MmapCpu final : public Placement {
 public:
  MmapCpu(Backend& backend, const PlacementConfig& cfg) : backend_(backend), cfg_(cfg), file_(cfg) {}
  Policy policy() const override { return cfg_.policy; }
  std::byte* fill_begin(int pack) override {
    check_pack(cfg_, pack, "fill_begin");
    return file_.ptr(pack);
  }
  void fill_end(int pack) override {
    check_pack(cfg_, pack, "fill_end");
    file_.settle(pack);
  }
  std::uint64_t fetch(int pack, int, Stream& s) override {
    check_pack(cfg_, pack, "fetch");
    // um: nothing is issued; the pack's pages fault in when the compute touches them, and those
    // are the bytes this residency window moves, so they are what it reports.
    if (cfg_.policy == Policy::UM) return file_.bytes(pack);
    const MappedFile* m = &file_.map();
    const std::size_t off = file_.offset(pack), n = file_.bytes(pack);
    backend_.host_callback(s, [m, off, n] {
      m->advise_willneed(off, n);
      m->touch(off, n);
    });
    return n;
  }
  std::uint64_t evict(int pack, int, Stream& s) override {
    check_pack(cfg_, pack, "evict");
    const MappedFile* m = &file_.map();
    const std::size_t off = file_.offset(pack), n = file_.bytes(pack);
    backend_.host_callback(s, [m, off, n] { m->advise_dontneed(off, n); });
    return 0;  // pages are dropped (the file holds them), not copied back
  }
  const std::byte* compute_ptr(int pack, int) const override {
    check_pack(cfg_, pack, "compute_ptr");
    return file_.ptr(pack);
  }

 private:
  Backend& backend_;
  PlacementConfig cfg_;
  PackFile file_;
};

// stream: kept packs get a RAM buffer of their own (filled by their one fetch); streamed packs
// are copied from the pack file into `slots` ring buffers sized to the largest streamed pack.
class StreamCpu final : public Placement {
 public:
  StreamCpu(Backend& backend, const PlacementConfig& cfg) : backend_(backend), cfg_(cfg), file_(cfg) {
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
    file_.settle(pack);
  }
  std::uint64_t fetch(int pack, int slot, Stream& s) override {
    check_pack(cfg_, pack, "fetch");
    const std::size_t n = file_.bytes(pack);
    std::byte* dst = target(pack, slot);
    backend_.memcpy_async(dst, file_.ptr(pack), n, s);
    if (slot < 0) {
      // A kept pack is copied once: its pages in the pack file are not needed again.
      const MappedFile* m = &file_.map();
      const std::size_t off = file_.offset(pack);
      backend_.host_callback(s, [m, off, n] { m->advise_dontneed(off, n); });
    }
    return n;
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

 private:
  std::byte* target(int pack, int slot) const { return stream_target(cfg_, kept_, slots_, pack, slot); }

  Backend& backend_;
  PlacementConfig cfg_;
  PackFile file_;
  std::vector<Buffer> kept_;
  std::vector<Buffer> slots_;
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
