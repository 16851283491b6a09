#include <gtest/gtest.h>

#include "base/error.h"
#include "memory/buffer.h"
#include "memory/layer_pack.h"

namespace ferry {
namespace {

TEST(PackLayout, OffsetsAre256AlignedAndPackIs2MiB) {
  PackLayout l;
  l.add("ln_1.weight", DType::F32, {3});                 // 12 bytes
  l.add("attn.c_attn.weight", DType::F16, {5, 7});       // 70 bytes
  l.add("mlp.c_fc.bias", DType::BF16, {1000});           // 2000 bytes
  ASSERT_EQ(l.tensors().size(), 3u);
  EXPECT_EQ(l.find("ln_1.weight").offset, 0u);
  EXPECT_EQ(l.find("ln_1.weight").bytes, 12u);
  EXPECT_EQ(l.find("attn.c_attn.weight").offset, 256u);
  EXPECT_EQ(l.find("attn.c_attn.weight").bytes, 70u);
  EXPECT_EQ(l.find("mlp.c_fc.bias").offset, 512u);
  EXPECT_EQ(l.used_bytes(), 2512u);
  EXPECT_EQ(l.bytes(), kPackAlign);
  for (const auto& t : l.tensors()) EXPECT_EQ(t.offset % 256, 0u);
}

TEST(PackLayout, LargePackRoundsUp) {
  PackLayout l;
  l.add("w", DType::F32, {1 << 19});  // exactly 2 MiB
  EXPECT_EQ(l.bytes(), kPackAlign);
  l.add("b", DType::F32, {1});
  EXPECT_EQ(l.bytes(), 2 * kPackAlign);
}

TEST(PackLayout, ViewAndMissingTensor) {
  PackLayout l;
  l.add("a", DType::F32, {2, 3});
  l.add("b", DType::I32, {4});
  alignas(256) std::byte base[1024]{};
  TensorView v = l.view(base, "b", DeviceKind::CPU);
  EXPECT_EQ(v.data, static_cast<void*>(base + 256));
  EXPECT_EQ(v.dtype, DType::I32);
  EXPECT_EQ(v.shape, (Shape{4}));
  EXPECT_THROW(l.find("c"), InternalError);
  EXPECT_THROW(l.add("a", DType::F32, {1}), InternalError);
}

}  // namespace
}  // namespace ferry
