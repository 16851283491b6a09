// CUDA buffers (runs on a machine with a GPU; skips visibly without one).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <limits>

#include "base/backend.h"
#include "base/error.h"
#include "memory/buffer.h"

namespace ferry {
namespace {

TEST(BufferCuda, AllKindsAllocateAndFree) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  auto backend = make_backend(DeviceKind::CUDA, 0);  // sets the device
  for (BufferKind k : {BufferKind::Host, BufferKind::Pinned, BufferKind::Device, BufferKind::Managed}) {
    Buffer b = Buffer::allocate(DeviceKind::CUDA, k, 3 << 20);
    ASSERT_FALSE(b.empty()) << buffer_kind_name(k);
    EXPECT_EQ(b.size(), std::size_t{3} << 20);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b.data()) % 256, 0u);
    if (k != BufferKind::Device) {  // host-addressable kinds
      std::memset(b.data(), 0x5a, b.size());
      EXPECT_EQ(b.as<unsigned char>()[b.size() - 1], 0x5a);
    }
  }
}

TEST(BufferCuda, DeviceRoundTripThroughPinned) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  auto backend = make_backend(DeviceKind::CUDA, 0);
  auto s = backend->create_stream(1);
  Buffer src = Buffer::allocate(DeviceKind::CUDA, BufferKind::Pinned, 1 << 20);
  Buffer dev = Buffer::allocate(DeviceKind::CUDA, BufferKind::Device, 1 << 20);
  Buffer dst = Buffer::allocate(DeviceKind::CUDA, BufferKind::Pinned, 1 << 20);
  for (std::size_t i = 0; i < src.size(); ++i) src.as<unsigned char>()[i] = static_cast<unsigned char>(i * 3);
  backend->memcpy_async(dev.data(), src.data(), src.size(), *s);
  backend->memcpy_async(dst.data(), dev.data(), src.size(), *s);
  s->synchronize();
  EXPECT_EQ(std::memcmp(src.data(), dst.data(), src.size()), 0);
}

TEST(BufferCuda, HugeDeviceAllocationIsResourceExhausted) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  auto backend = make_backend(DeviceKind::CUDA, 0);
  EXPECT_THROW(Buffer::allocate(DeviceKind::CUDA, BufferKind::Device, std::size_t{1} << 52), ResourceExhausted);
  // The failure is not sticky: a normal allocation still works.
  EXPECT_FALSE(Buffer::allocate(DeviceKind::CUDA, BufferKind::Device, 1 << 20).empty());
}

}  // namespace
}  // namespace ferry
