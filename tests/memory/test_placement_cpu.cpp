#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "base/backend.h"
#include "base/error.h"
#include "memory/buffer.h"
#include "memory/placement.h"

namespace ferry {
namespace {

std::byte pattern(int pack, std::size_t j) { return static_cast<std::byte>((pack * 131 + j * 7 + (j >> 9)) & 0xff); }

struct Fixture {
  std::unique_ptr<Backend> backend = make_backend(DeviceKind::CPU, 0, 1);
  std::unique_ptr<Stream> stream = backend->create_stream(1);
  PlacementConfig cfg;
  std::unique_ptr<Placement> pl;

  explicit Fixture(Policy p) {
    cfg.policy = p;
    cfg.pack_bytes = {8192, 5000, 12000, 3000};
    cfg.keep = {true, true, false, false};
    if (p == Policy::Resident) cfg.keep.assign(4, true);
    cfg.slots = 2;
    cfg.pack_dir = ::testing::TempDir();
    pl = make_placement(*backend, cfg);
    for (int k = 0; k < 4; ++k) {
      std::byte* w = pl->fill_begin(k);
      for (std::size_t j = 0; j < cfg.pack_bytes[static_cast<std::size_t>(k)]; ++j) w[j] = pattern(k, j);
      pl->fill_end(k);
    }
  }
  bool matches(int pack, int slot) const {
    const std::byte* p = pl->compute_ptr(pack, slot);
    for (std::size_t j = 0; j < cfg.pack_bytes[static_cast<std::size_t>(pack)]; ++j)
      if (p[j] != pattern(pack, j)) return false;
    return true;
  }
};

TEST(PlacementCpu, ResidentMovesNothing) {
  Fixture f(Policy::Resident);
  EXPECT_EQ(f.pl->policy(), Policy::Resident);
  for (int k = 0; k < 4; ++k) {
    EXPECT_EQ(f.pl->fetch(k, -1, *f.stream), 0u);
    EXPECT_TRUE(f.matches(k, -1)) << k;
  }
  EXPECT_EQ(f.pl->evict(3, -1, *f.stream), 0u);
  EXPECT_TRUE(f.matches(3, -1));
}

TEST(PlacementCpu, UmAndUmPrefetchReadTheMapping) {
  for (Policy p : {Policy::UM, Policy::UMPrefetch}) {
    Fixture f(p);
    EXPECT_EQ(f.pl->policy(), p);
    // um issues nothing but reports the bytes that will fault in; um-prefetch moves them itself.
    EXPECT_EQ(f.pl->fetch(0, -1, *f.stream), 8192u);
    EXPECT_EQ(f.pl->fetch(2, 0, *f.stream), 12000u);
    f.stream->synchronize();
    EXPECT_TRUE(f.matches(0, -1));
    EXPECT_TRUE(f.matches(2, 0));
    EXPECT_EQ(f.pl->evict(2, 0, *f.stream), 0u);
    f.stream->synchronize();
    EXPECT_TRUE(f.matches(2, 0)) << "the pack file keeps evicted pages";
    // Packs sit at 2 MiB aligned offsets of one file.
    EXPECT_EQ(static_cast<std::size_t>(f.pl->compute_ptr(1, -1) - f.pl->compute_ptr(0, -1)), kPackAlign);
  }
}

TEST(PlacementCpu, StreamCopiesIntoSlots) {
  Fixture f(Policy::Stream);
  EXPECT_EQ(f.pl->fetch(0, -1, *f.stream), 8192u);
  EXPECT_EQ(f.pl->fetch(1, -1, *f.stream), 5000u);
  EXPECT_EQ(f.pl->fetch(2, 0, *f.stream), 12000u);
  EXPECT_EQ(f.pl->fetch(3, 1, *f.stream), 3000u);
  f.stream->synchronize();
  EXPECT_TRUE(f.matches(0, -1));
  EXPECT_TRUE(f.matches(1, -1));
  EXPECT_TRUE(f.matches(2, 0));
  EXPECT_TRUE(f.matches(3, 1));
  EXPECT_NE(f.pl->compute_ptr(2, 0), f.pl->compute_ptr(3, 1));
  // Reusing slot 0 for pack 3 overwrites pack 2's copy.
  EXPECT_EQ(f.pl->evict(2, 0, *f.stream), 0u);
  EXPECT_EQ(f.pl->fetch(3, 0, *f.stream), 3000u);
  f.stream->synchronize();
  EXPECT_TRUE(f.matches(3, 0));
  EXPECT_EQ(f.pl->compute_ptr(3, 0), f.pl->compute_ptr(2, 0));
  EXPECT_THROW(f.pl->fetch(2, 5, *f.stream), InternalError);   // no such slot
  EXPECT_THROW(f.pl->fetch(2, -1, *f.stream), InternalError);  // streamed pack without a slot
}

TEST(PlacementCpu, RejectsUnresolvedPolicyAndMismatchedConfig) {
  auto backend = make_backend(DeviceKind::CPU, 0, 1);
  PlacementConfig cfg;
  cfg.policy = Policy::Auto;
  cfg.pack_bytes = {4096};
  cfg.keep = {true};
  EXPECT_THROW(make_placement(*backend, cfg), InternalError);
  cfg.policy = Policy::Resident;
  cfg.keep = {true, false};
  EXPECT_THROW(make_placement(*backend, cfg), InternalError);
}

}  // namespace
}  // namespace ferry
