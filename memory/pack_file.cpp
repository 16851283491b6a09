// PackFile: the packs of a model in one unnamed file, read back with pread (see pack_file.h).
#include "memory/pack_file.h"

#include "memory/buffer.h"

namespace ferry {

namespace {

std::size_t total_bytes(const std::vector<std::size_t>& pack_bytes) {
  std::size_t total = 0;
  for (std::size_t b : pack_bytes) total += align_up(b, kPackAlign);
  return total;
}

}  // namespace

PackFile::PackFile(const std::string& dir, const std::vector<std::size_t>& pack_bytes)
    : bytes_(pack_bytes), map_(MappedFile::create_temp(dir, total_bytes(pack_bytes))) {
  std::size_t off = 0;
  for (std::size_t b : pack_bytes) {
    offsets_.push_back(off);
    off += align_up(b, kPackAlign);
  }
}

void PackFile::settle(int pack, bool drop_cache) const {
  map_.flush_range(offset(pack), bytes(pack));
  release(pack, drop_cache);
}

std::size_t PackFile::read(int pack, std::byte* dst) const { return map_.pread_into(dst, offset(pack), bytes(pack)); }

void PackFile::release(int pack, bool drop_cache) const {
  map_.unmap_pages(offset(pack), bytes(pack));
  if (drop_cache) map_.drop_cache(offset(pack), bytes(pack));
}

}  // namespace ferry
