// PackFile: one unnamed file on disk holding every pack of a model at a 2 MiB aligned offset, the
// disk tier of DESIGN.md's three tiers (and, on the CPU, the file whose page cache is the host
// tier). Loading writes a pack through the mapping and settles it (written back, unmapped);
// streaming reads it back with pread() into a buffer, never through the mapping, so the pages
// never become part of the process. Which packs may stay in the page cache is the plan's (tiers).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "memory/mapped_file.h"

namespace ferry {

class PackFile {
 public:
  // An unnamed file in `dir` sized for packs of `pack_bytes` (each at a 2 MiB aligned offset).
  PackFile(const std::string& dir, const std::vector<std::size_t>& pack_bytes);

  std::byte* ptr(int pack) const { return map_.data() + offsets_[idx(pack)]; }
  std::size_t offset(int pack) const { return offsets_[idx(pack)]; }
  std::size_t bytes(int pack) const { return bytes_[idx(pack)]; }
  const MappedFile& map() const { return map_; }

  // After loading a pack through ptr(): writes it back to the file and unmaps it from the process;
  // `drop_cache` also drops it from the page cache (a disk-tier pack).
  void settle(int pack, bool drop_cache) const;
  // Copies the pack into dst with pread(): the bytes come from the page cache or the disk and are
  // never mapped into the process. Returns the bytes read (all of them, or it throws).
  std::size_t read(int pack, std::byte* dst) const;
  // Drops the pack's pages from the process (madvise) and, with `drop_cache`, from the page cache.
  void release(int pack, bool drop_cache) const;

 private:
  std::size_t idx(int pack) const { return static_cast<std::size_t>(pack); }
  std::vector<std::size_t> offsets_, bytes_;
  MappedFile map_;
};

}  // namespace ferry
