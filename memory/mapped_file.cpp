// MappedFile: RAII mmap of a file, plus the page advice of the CPU mmap tiers.
#include "memory/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/units.h"
#include "memory/buffer.h"

namespace ferry {

namespace {

std::size_t page_size() {
  static const auto p = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return p;
}

std::atomic<unsigned> touch_sink{0};

std::string why(int err) { return std::strerror(err); }

[[noreturn]] void throw_for(int err, const std::string& what) {
  if (err == ENOSPC || err == ENOMEM || err == EDQUOT)
    throw ResourceExhausted(what + ": " + why(err));
  throw BadInput(what + ": " + why(err));
}

// Sizes the file to `size` bytes and reserves its blocks, so a full disk shows up here as
// ResourceExhausted rather than later as SIGBUS on a page fault.
void size_file(int fd, std::size_t size, const std::string& what) {
  if (ftruncate(fd, static_cast<off_t>(size)) != 0) throw_for(errno, what);
  if (size == 0) return;
  const int rc = posix_fallocate(fd, 0, static_cast<off_t>(size));
  if (rc == ENOSPC || rc == EDQUOT) throw ResourceExhausted(what + ": no space for " + format_bytes(size) + ": " + why(rc));
  // Other failures (e.g. EOPNOTSUPP): the file stays sparse, which still works.
}

}  // namespace

MappedFile MappedFile::open_read(const std::string& path) {
  MappedFile m;
  m.path_ = path;
  m.fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (m.fd_ < 0) throw BadInput("cannot open " + path + ": " + why(errno));
  struct stat st {};
  if (fstat(m.fd_, &st) != 0) throw BadInput("cannot stat " + path + ": " + why(errno));
  if (!S_ISREG(st.st_mode)) throw BadInput("cannot map " + path + ": not a regular file");
  m.size_ = static_cast<std::size_t>(st.st_size);
  if (m.size_ == 0) return m;  // nothing to map; data() is null
  void* p = mmap(nullptr, m.size_, PROT_READ, MAP_SHARED, m.fd_, 0);
  if (p == MAP_FAILED) {
    const int err = errno;
    if (err == ENOMEM) throw ResourceExhausted("cannot map " + path + " (" + format_bytes(m.size_) + "): " + why(err));
    throw BadInput("cannot map " + path + ": " + why(err));
  }
  m.data_ = static_cast<std::byte*>(p);
  return m;
}

MappedFile MappedFile::create(const std::string& path, std::size_t size) {
  MappedFile m;
  m.path_ = path;
  m.fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (m.fd_ < 0) throw_for(errno, "cannot create " + path);
  size_file(m.fd_, size, "cannot size " + path);
  m.size_ = size;
  m.writable_ = true;
  if (size == 0) return m;
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, m.fd_, 0);
  if (p == MAP_FAILED) throw_for(errno, "cannot map " + path);
  m.data_ = static_cast<std::byte*>(p);
  return m;
}

MappedFile MappedFile::create_temp(const std::string& dir, std::size_t size) {
  MappedFile m;
  const std::string d = dir.empty() ? std::string(".") : dir;
  m.path_ = d + "/(unnamed pack file)";
  m.fd_ = ::open(d.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (m.fd_ < 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR || err == EACCES || err == EROFS)
      throw BadInput("cannot create a temporary file in " + d + ": " + why(err));
    // O_TMPFILE unsupported by this file system: a named file, unlinked at once.
    std::string tmpl = d + "/ferry-pack-XXXXXX";
    std::vector<char> name(tmpl.begin(), tmpl.end());
    name.push_back('\0');
    m.fd_ = mkostemp(name.data(), O_CLOEXEC);
    if (m.fd_ < 0) throw_for(errno, "cannot create a temporary file in " + d);
    ::unlink(name.data());
  }
  size_file(m.fd_, size, "cannot size the temporary file in " + d);
  m.size_ = size;
  m.writable_ = true;
  if (size == 0) return m;
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, m.fd_, 0);
  if (p == MAP_FAILED) throw_for(errno, "cannot map the temporary file in " + d);
  m.data_ = static_cast<std::byte*>(p);
  return m;
}

MappedFile::MappedFile(MappedFile&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)),
      size_(std::exchange(o.size_, 0)),
      fd_(std::exchange(o.fd_, -1)),
      writable_(std::exchange(o.writable_, false)),
      path_(std::move(o.path_)) {}

MappedFile& MappedFile::operator=(MappedFile&& o) noexcept {
  if (this != &o) {
    unmap();
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
    fd_ = std::exchange(o.fd_, -1);
    writable_ = std::exchange(o.writable_, false);
    path_ = std::move(o.path_);
  }
  return *this;
}

MappedFile::~MappedFile() { unmap(); }

void MappedFile::unmap() noexcept {
  if (data_) munmap(data_, size_);
  if (fd_ >= 0) ::close(fd_);
  data_ = nullptr;
  size_ = 0;
  fd_ = -1;
  writable_ = false;
}

namespace {

// [offset, offset + n) rounded outward to pages and clipped to the mapping: {begin, length}.
std::pair<std::size_t, std::size_t> page_range(std::size_t offset, std::size_t n, std::size_t size) {
  if (offset >= size || n == 0) return {0, 0};
  const std::size_t end = std::min(size, offset + n);
  const std::size_t b = offset / page_size() * page_size();
  const std::size_t e = std::min(align_up(end, page_size()), align_up(size, page_size()));
  return {b, e - b};
}

}  // namespace

void MappedFile::advise_willneed(std::size_t offset, std::size_t n) const {
  const auto [b, len] = page_range(offset, n, size_);
  if (len == 0) return;
  (void)madvise(data_ + b, len, MADV_WILLNEED);  // advice: failure only costs speed
}

void MappedFile::advise_dontneed(std::size_t offset, std::size_t n) const {
  unmap_pages(offset, n);
  drop_cache(offset, n);
}

void MappedFile::unmap_pages(std::size_t offset, std::size_t n) const {
  const auto [b, len] = page_range(offset, n, size_);
  if (len == 0) return;
  // Dirty bits move to the page cache; the pages stay there until dropped or reclaimed.
  (void)madvise(data_ + b, len, MADV_DONTNEED);
}

void MappedFile::flush_range(std::size_t offset, std::size_t n) const {
  if (!writable_) return;
  const auto [b, len] = page_range(offset, n, size_);
  if (len == 0) return;
  // sync_file_range, not msync/fsync: the data must reach the file, not survive a crash, and it
  // costs nothing when the range is clean (no journal commit), which is the common case.
  const auto off = static_cast<off64_t>(b), cnt = static_cast<off64_t>(len);
  if (sync_file_range(fd_, off, cnt, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER) != 0) {
    const int err = errno;
    if (err == ENOSPC || err == EDQUOT || err == ENOMEM)
      throw ResourceExhausted("cannot write back " + path_ + ": " + why(err));
    if (err != ESPIPE && err != EINVAL) throw InternalError("sync_file_range of " + path_ + " failed: " + why(err));
    flush(offset, n);  // file systems without sync_file_range
  }
}

void MappedFile::drop_cache(std::size_t offset, std::size_t n) const {
  // Only our own pack files (writable): a user's checkpoint's page cache is the kernel's to manage.
  if (!writable_) return;
  const auto [b, len] = page_range(offset, n, size_);
  if (len == 0) return;
  flush_range(offset, n);  // dirty pages cannot be dropped
  (void)posix_fadvise(fd_, static_cast<off_t>(b), static_cast<off_t>(len), POSIX_FADV_DONTNEED);
}

std::size_t MappedFile::pread_into(std::byte* dst, std::size_t offset, std::size_t n) const {
  FERRY_CHECK(offset <= size_ && n <= size_ - offset, "pread_into: range outside " + path_);
  std::size_t done = 0;
  while (done < n) {
    const ssize_t got = ::pread(fd_, dst + done, n - done, static_cast<off_t>(offset + done));
    if (got < 0) {
      if (errno == EINTR) continue;
      throw InternalError("cannot read " + path_ + " at offset " + std::to_string(offset + done) + ": " + why(errno));
    }
    if (got == 0) throw InternalError("unexpected end of " + path_ + " at offset " + std::to_string(offset + done));
    done += static_cast<std::size_t>(got);
  }
  return done;
}

std::size_t MappedFile::cached_bytes(std::size_t offset, std::size_t n) const {
  const auto [b, len] = page_range(offset, n, size_);
  if (len == 0) return 0;
  std::vector<unsigned char> vec((len + page_size() - 1) / page_size());
  if (mincore(data_ + b, len, vec.data()) != 0) return 0;  // unknown: counted as not cached
  std::size_t pages = 0;
  for (unsigned char v : vec) pages += v & 1u;
  return std::min(pages * page_size(), len);
}

void MappedFile::advise_sequential() const {
  if (!data_) return;
  (void)madvise(data_, size_, MADV_SEQUENTIAL);
}

void MappedFile::touch(std::size_t offset, std::size_t n) const {
  const auto [b, len] = page_range(offset, n, size_);
  unsigned sum = 0;
  for (std::size_t i = 0; i < len; i += page_size())
    sum += static_cast<unsigned>(*static_cast<const volatile std::byte*>(data_ + b + i));
  touch_sink.store(sum, std::memory_order_relaxed);  // keeps the reads from being optimised away
}

void MappedFile::flush(std::size_t offset, std::size_t n) const {
  if (!writable_) return;
  const auto [b, len] = page_range(offset, n, size_);
  if (len == 0) return;
  if (msync(data_ + b, len, MS_SYNC) != 0) {
    const int err = errno;
    if (err == ENOSPC || err == ENOMEM || err == EDQUOT)
      throw ResourceExhausted("cannot write back " + path_ + ": " + why(err));
    throw InternalError("msync of " + path_ + " failed: " + why(err));
  }
}

}  // namespace ferry
