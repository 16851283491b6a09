#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <limits>

#include "base/error.h"
#include "memory/buffer.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FERRY_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(FERRY_TEST_ASAN)
// The huge allocation below must fail with ResourceExhausted, not abort the sanitized test binary.
extern "C" const char* __asan_default_options() { return "allocator_may_return_null=1"; }
#endif

namespace ferry {
namespace {

TEST(Buffer, CpuKindsAreAlignedAndWritable) {
  for (BufferKind k : {BufferKind::Host, BufferKind::Pinned, BufferKind::Device, BufferKind::Managed}) {
    Buffer b = Buffer::allocate(DeviceKind::CPU, k, 3 * 4096 + 5);
    ASSERT_FALSE(b.empty()) << buffer_kind_name(k);
    EXPECT_EQ(b.size(), 3u * 4096 + 5);
    EXPECT_EQ(b.kind(), k);
    EXPECT_EQ(b.device(), DeviceKind::CPU);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b.data()) % kPackAlign, 0u);
    std::memset(b.data(), 0xab, b.size());
    EXPECT_EQ(b.as<unsigned char>()[b.size() - 1], 0xab);
  }
}

TEST(Buffer, SmallAlignmentAndMove) {
  Buffer a = Buffer::allocate(DeviceKind::CPU, BufferKind::Host, 100, 64);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(a.data()) % 64, 0u);
  void* p = a.data();
  Buffer b = std::move(a);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): moved-from state is specified
  EXPECT_EQ(b.data(), p);
  Buffer c;
  c = std::move(b);
  EXPECT_EQ(c.data(), p);
  EXPECT_EQ(c.size(), 100u);
}

TEST(Buffer, ZeroBytesIsEmpty) {
  Buffer b = Buffer::allocate(DeviceKind::CPU, BufferKind::Device, 0);
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.size(), 0u);
}

TEST(Buffer, HugeAllocationIsResourceExhausted) {
  try {
    Buffer b = Buffer::allocate(DeviceKind::CPU, BufferKind::Device, std::numeric_limits<std::size_t>::max() / 2);
    FAIL() << "allocation of half the address space succeeded";
  } catch (const ResourceExhausted& e) {
    EXPECT_NE(std::string(e.what()).find("device"), std::string::npos) << e.what();
  }
}

TEST(Buffer, KindNames) {
  EXPECT_STREQ(buffer_kind_name(BufferKind::Pinned), "pinned");
  EXPECT_STREQ(buffer_kind_name(BufferKind::Managed), "managed");
  EXPECT_EQ(align_up(1, kPackAlign), kPackAlign);
  EXPECT_EQ(align_up(kPackAlign, kPackAlign), kPackAlign);
  EXPECT_EQ(align_up(0, kPackAlign), 0u);
}

}  // namespace
}  // namespace ferry
