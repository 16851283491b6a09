// Owning buffers of the four kinds of DESIGN.md, and the alignment of layer packs.
#pragma once
#include <cstddef>
#include <cstdint>

#include "base/tensor.h"

namespace ferry {

inline constexpr std::size_t kPackAlign = std::size_t{2} << 20;  // 2 MiB: one huge page / UM granule
inline constexpr std::size_t align_up(std::size_t n, std::size_t a) { return (n + a - 1) / a * a; }

// CUDA: Host = malloc, Pinned = cudaMallocHost, Device = cudaMalloc, Managed = cudaMallocManaged.
// CPU:  all four are page-aligned RAM (Pinned is mlock'ed when the limit allows, best effort).
enum class BufferKind : std::uint8_t { Host, Pinned, Device, Managed };
const char* buffer_kind_name(BufferKind k);

class Buffer {
 public:
  Buffer() = default;
  // Throws ResourceExhausted when the allocation fails (naming kind and size).
  static Buffer allocate(DeviceKind device, BufferKind kind, std::size_t bytes, std::size_t align = kPackAlign);
  Buffer(Buffer&& o) noexcept;
  Buffer& operator=(Buffer&& o) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer();  // never throws

  void* data() const { return data_; }
  std::byte* bytes_ptr() const { return static_cast<std::byte*>(data_); }
  std::size_t size() const { return size_; }
  BufferKind kind() const { return kind_; }
  DeviceKind device() const { return device_; }
  bool empty() const { return data_ == nullptr; }
  template <class T>
  T* as() const {
    return static_cast<T*>(data_);
  }

 private:
  void release() noexcept;
  void* data_ = nullptr;
  std::size_t size_ = 0;
  BufferKind kind_ = BufferKind::Host;
  DeviceKind device_ = DeviceKind::CPU;
};

}  // namespace ferry
