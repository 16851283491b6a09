// Buffer: the CPU half (page-aligned RAM for every kind on the CPU, and Host buffers on CUDA).
#include "memory/buffer.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <utility>

#include "base/error.h"
#include "base/units.h"
#include "memory/buffer_cuda.h"

namespace ferry {

const char* buffer_kind_name(BufferKind k) {
  switch (k) {
    case BufferKind::Host: return "host";
    case BufferKind::Pinned: return "pinned";
    case BufferKind::Device: return "device";
    case BufferKind::Managed: return "managed";
  }
  return "?";
}

namespace {

bool is_cuda_side(DeviceKind device, BufferKind kind) {
  return device == DeviceKind::CUDA && kind != BufferKind::Host;
}

// Buffers from this size on are 2 MiB aligned and advised as transparent huge pages: a KV cache
// or activation buffer first touched 4 KiB at a time took a page fault per page, 9% of a 512-token
// gpt2-large prefill (`ferry run --report`, kv_append); huge pages also spare the TLB.
constexpr std::size_t kHugePage = std::size_t{2} << 20;

void* aligned_ram(BufferKind kind, std::size_t bytes, std::size_t align) {
  const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  if (align < page) align = page;
  const bool huge = bytes >= kHugePage;
  if (huge && align < kHugePage) align = kHugePage;
  if ((align & (align - 1)) != 0) throw InternalError("Buffer::allocate: alignment " + std::to_string(align) + " is not a power of two");
  void* p = nullptr;
  const int rc = posix_memalign(&p, align, align_up(bytes, page));
  if (rc != 0 || p == nullptr)
    throw ResourceExhausted(std::string("cannot allocate ") + format_bytes(bytes) + " of " +
                            buffer_kind_name(kind) + " memory (RAM)");
#ifdef MADV_HUGEPAGE
  if (huge) (void)madvise(p, align_up(bytes, page), MADV_HUGEPAGE);  // advice: without THP it costs nothing
#endif
  return p;
}

}  // namespace

Buffer Buffer::allocate(DeviceKind device, BufferKind kind, std::size_t bytes, std::size_t align) {
  Buffer b;
  b.kind_ = kind;
  b.device_ = device;
  if (bytes == 0) return b;
  if (is_cuda_side(device, kind)) {
#ifdef FERRY_HAVE_CUDA
    b.data_ = cuda_buffer_alloc(kind, bytes);  // CUDA allocations are at least 256-byte aligned
#else
    throw InternalError(std::string("Buffer::allocate: a CUDA ") + buffer_kind_name(kind) +
                        " buffer was asked for, but ferry was built without CUDA");
#endif
  } else {
    b.data_ = aligned_ram(kind, bytes, align);
    // Best effort: RLIMIT_MEMLOCK is often small, and pinning is an optimisation only.
    if (kind == BufferKind::Pinned && device == DeviceKind::CPU) (void)mlock(b.data_, bytes);
  }
  b.size_ = bytes;
  return b;
}

Buffer::Buffer(Buffer&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)), kind_(o.kind_), device_(o.device_) {}

Buffer& Buffer::operator=(Buffer&& o) noexcept {
  if (this != &o) {
    release();
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
    kind_ = o.kind_;
    device_ = o.device_;
  }
  return *this;
}

Buffer::~Buffer() { release(); }

void Buffer::release() noexcept {
  if (!data_) return;
  if (is_cuda_side(device_, kind_)) {
#ifdef FERRY_HAVE_CUDA
    cuda_buffer_free(kind_, data_);
#endif
  } else {
    if (kind_ == BufferKind::Pinned && device_ == DeviceKind::CPU) (void)munlock(data_, size_);
    std::free(data_);
  }
  data_ = nullptr;
  size_ = 0;
}

}  // namespace ferry
