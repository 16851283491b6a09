// A device buffer of i32 indices (ids, positions, sequence numbers, offsets) plus the host vector
// staged into it: what generate() (runtime/generate.cpp) and encode() (runtime/encode.cpp) hand
// their batches' indices to the ops in.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "base/backend.h"
#include "memory/buffer.h"

namespace ferry {

struct IndexBuffer {
  Buffer dev;
  std::vector<std::int32_t> host;
  TensorView view(DeviceKind d) const {
    return TensorView(dev.data(), DType::I32, Shape{static_cast<std::int64_t>(host.size())}, d);
  }
};

// Room for `capacity` indices on the device (at least one).
inline Buffer index_buffer(DeviceKind d, std::size_t capacity) {
  return Buffer::allocate(d, BufferKind::Device, std::max<std::size_t>(capacity, 1) * sizeof(std::int32_t), 256);
}

inline IndexBuffer make_index(DeviceKind d, std::size_t capacity) {
  IndexBuffer b;
  b.dev = index_buffer(d, capacity);
  return b;
}

// host -> dev on stream s (the device buffer must hold host.size() indices).
inline void upload(Backend& be, IndexBuffer& b, Stream& s) {
  if (!b.host.empty()) be.memcpy_async(b.dev.data(), b.host.data(), b.host.size() * sizeof(std::int32_t), s);
}

}  // namespace ferry
