// RAII memory mapping of a file (the mmap tier of the CPU backend and the checkpoint reader).
#pragma once
#include <cstddef>
#include <string>

namespace ferry {

class MappedFile {
 public:
  MappedFile() = default;
  // Maps an existing file read-only (MAP_SHARED). Throws BadInput naming the path when it cannot.
  static MappedFile open_read(const std::string& path);
  // Creates (or truncates) `path` with `size` bytes, mapped read-write (MAP_SHARED).
  static MappedFile create(const std::string& path, std::size_t size);
  // An unnamed file of `size` bytes in directory `dir` (O_TMPFILE, else mkstemp + unlink), mapped
  // read-write; it disappears when unmapped. Used for the packed weights of the mmap tiers.
  static MappedFile create_temp(const std::string& dir, std::size_t size);

  MappedFile(MappedFile&& o) noexcept;
  MappedFile& operator=(MappedFile&& o) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::byte* data() const { return data_; }
  std::size_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // Page-granular advice over [offset, offset + n) (rounded outward to pages). madvise lives here
  // and in placement_cpu.cpp only (DESIGN.md: memory/ is the only place that advises).
  void advise_willneed(std::size_t offset, std::size_t n) const;
  void advise_dontneed(std::size_t offset, std::size_t n) const;  // unmap_pages + drop_cache
  // The two halves of advise_dontneed: the pages leave this process (madvise DONTNEED), and they
  // leave the page cache (written back first when the mapping is writable; posix_fadvise).
  void unmap_pages(std::size_t offset, std::size_t n) const;
  void drop_cache(std::size_t offset, std::size_t n) const;
  // Writes dirty pages of the range back and waits (sync_file_range; msync where unsupported).
  void flush_range(std::size_t offset, std::size_t n) const;
  // pread()s [offset, offset + n) of the file into dst, never through the mapping. Returns n, or
  // throws (an I/O error, or a file shorter than the range).
  std::size_t pread_into(std::byte* dst, std::size_t offset, std::size_t n) const;
  // Bytes of [offset, offset + n) (whole pages) in the page cache now (mincore).
  std::size_t cached_bytes(std::size_t offset, std::size_t n) const;
  void advise_sequential() const;
  // Reads one byte per page so the range is resident when this returns.
  void touch(std::size_t offset, std::size_t n) const;
  // Writes dirty pages of the range back to the file (msync), so DONTNEED does not lose them.
  void flush(std::size_t offset, std::size_t n) const;

 private:
  void unmap() noexcept;
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  int fd_ = -1;
  bool writable_ = false;
  std::string path_;
};

}  // namespace ferry
