// The CUDA placements one by one (fill, fetch, evict, compute address, bytes moved), the managed
// guard, --gpu-mem-limit and the batch reserve on a real device. Skips visibly without a GPU.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "base/error.h"
#include "memory/buffer.h"
#include "memory/placement.h"
#include "tests/gpu/gpu_util.h"

namespace ferry {
namespace {

constexpr std::size_t MiB = std::size_t{1} << 20;

unsigned char pattern(int pack, std::size_t i) { return static_cast<unsigned char>((pack * 131 + i * 7) & 0xff); }

struct Moved {
  std::uint64_t fetch = 0, evict = 0;
};

// Fills 3 packs (the middle one streamed through slot 0 unless every pack is kept), fetches each,
// copies what the compute would read back to the host and compares; evicts the streamed pack and
// fetches it again. Returns the bytes fetch and evict reported for the streamed pack.
Moved exercise(Policy policy, bool all_kept) {
  auto be = make_backend(DeviceKind::CUDA, 0);
  auto s = be->create_stream(1);
  PlacementConfig cfg;
  cfg.policy = policy;
  cfg.pack_bytes = {3 * MiB, 5 * MiB + 4096, 2 * MiB};
  cfg.keep = {true, all_kept, true};
  cfg.slots = all_kept ? 0 : 1;
  std::unique_ptr<Placement> pl = make_placement(*be, cfg);
  EXPECT_EQ(pl->policy(), policy);
  for (int p = 0; p < 3; ++p) {
    std::byte* dst = pl->fill_begin(p);
    for (std::size_t i = 0; i < cfg.pack_bytes[static_cast<std::size_t>(p)]; ++i)
      dst[i] = static_cast<std::byte>(pattern(p, i));
    pl->fill_end(p);
  }
  Moved m;
  Buffer back = Buffer::allocate(DeviceKind::CUDA, BufferKind::Pinned, 6 * MiB);
  auto check = [&](int p, int slot, const std::string& when) {
    const std::size_t n = cfg.pack_bytes[static_cast<std::size_t>(p)];
    std::memset(back.data(), 0, n);
    be->memcpy_async(back.data(), pl->compute_ptr(p, slot), n, *s);
    s->synchronize();
    std::size_t bad = 0;
    for (std::size_t i = 0; i < n; ++i) bad += back.as<unsigned char>()[i] != pattern(p, i);
    EXPECT_EQ(bad, 0u) << policy_name(policy) << ": pack " << p << " " << when;
  };
  for (int p = 0; p < 3; ++p) {
    const bool streamed = p == 1 && !all_kept;
    const int slot = streamed ? 0 : -1;
    const std::uint64_t moved = pl->fetch(p, slot, *s);
    if (p == 1) m.fetch = moved;
    check(p, slot, "after its first fetch");
  }
  const int slot1 = all_kept ? -1 : 0;
  if (!all_kept) {
    m.evict = pl->evict(1, 0, *s);
    s->synchronize();
    EXPECT_EQ(pl->fetch(1, 0, *s), m.fetch);
    check(1, 0, "after evict and fetch again");
  }
  check(0, -1, "at the end");
  check(1, slot1, "at the end");
  return m;
}

TEST(GpuPlacement, ResidentHoldsThePacksAndMovesNothing) {
  FERRY_REQUIRE_GPU();
  const Moved m = exercise(Policy::Resident, true);
  EXPECT_EQ(m.fetch, 0u);
}

TEST(GpuPlacement, UmFaultsInAndEvictsBackToHost) {
  FERRY_REQUIRE_GPU();
  const Moved m = exercise(Policy::UM, false);
  EXPECT_EQ(m.fetch, 0u);                 // pages fault in when touched
  EXPECT_EQ(m.evict, 5 * MiB + 4096);     // one copy per page: evicting migrates the pack back
}

TEST(GpuPlacement, UmPrefetchMovesWholePacks) {
  FERRY_REQUIRE_GPU();
  const Moved m = exercise(Policy::UMPrefetch, false);
  EXPECT_EQ(m.fetch, 5 * MiB + 4096);
  EXPECT_EQ(m.evict, 5 * MiB + 4096);
}

TEST(GpuPlacement, StreamCopiesIntoRingSlots) {
  FERRY_REQUIRE_GPU();
  const Moved m = exercise(Policy::Stream, false);
  EXPECT_EQ(m.fetch, 5 * MiB + 4096);
  EXPECT_EQ(m.evict, 0u);  // the slot is overwritten by its next fetch
}

TEST(GpuPlacement, EveryPolicyWithEverythingKept) {
  FERRY_REQUIRE_GPU();
  for (Policy p : {Policy::UM, Policy::UMPrefetch, Policy::Stream}) (void)exercise(p, true);
}

TEST(GpuPlacement, ManagedPacksAre2MiBAligned) {
  FERRY_REQUIRE_GPU();
  auto be = make_backend(DeviceKind::CUDA, 0);
  PlacementConfig cfg;
  cfg.policy = Policy::UMPrefetch;
  cfg.pack_bytes = {1 * MiB, 3 * MiB, 1};
  cfg.keep = {true, true, true};
  auto pl = make_placement(*be, cfg);
  for (int p = 0; p < 3; ++p)
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(pl->compute_ptr(p, -1)) % kPackAlign, 0u) << "pack " << p;
}

// The guard: managed weights beyond the device's free memory (here: beyond --gpu-mem-limit) are
// refused before anything is allocated, unless oversubscription is allowed.
TEST(GpuGuard, ManagedBeyondTheLimitIsRefusedUnlessAllowed) {
  FERRY_REQUIRE_GPU();
  auto be = make_backend(DeviceKind::CUDA, 0);
  for (Policy policy : {Policy::UM, Policy::UMPrefetch}) {
    PlacementConfig cfg;
    cfg.policy = policy;
    cfg.pack_bytes = {64 * MiB, 64 * MiB, 64 * MiB, 64 * MiB};
    cfg.keep = {true, true, true, true};
    cfg.gpu_mem_limit = 128 * MiB;
    try {
      (void)make_placement(*be, cfg);
      ADD_FAILURE() << policy_name(policy) << ": 256 MiB of managed weights under a 128 MiB limit were accepted";
    } catch (const ResourceExhausted& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("exceed the device's free memory"), std::string::npos) << msg;
      EXPECT_NE(msg.find("--allow-oversubscribe"), std::string::npos) << msg;
      EXPECT_NE(msg.find("--gpu-mem-limit"), std::string::npos) << msg;
    }
    cfg.allow_oversubscribe = true;
    EXPECT_NO_THROW((void)make_placement(*be, cfg)) << policy_name(policy);
    cfg.allow_oversubscribe = false;
    cfg.gpu_mem_limit = 0;  // 256 MiB fit any device this runs on
    EXPECT_NO_THROW((void)make_placement(*be, cfg)) << policy_name(policy);
  }
  // Stream and resident allocate no managed memory: the guard does not apply.
  PlacementConfig cfg;
  cfg.policy = Policy::Stream;
  cfg.pack_bytes = {64 * MiB, 64 * MiB};
  cfg.keep = {true, false};
  cfg.slots = 1;
  cfg.gpu_mem_limit = 16 * MiB;
  EXPECT_NO_THROW((void)make_placement(*be, cfg));
}

// A model far larger than any GPU (GPT-3 175B shapes, f16: ~350 GB) with um: refused at once, with
// the guard's message, before the managed region is allocated or a byte is loaded.
TEST(GpuGuard, HugeModelWithUmFailsBeforeAllocating) {
  FERRY_REQUIRE_GPU();
  const std::string toml =
      "[model]\nname = \"huge\"\nvocab_size = 50257\ncontext_length = 2048\nhidden_size = 12288\n"
      "num_layers = 96\nnum_heads = 96\ndtype = \"f16\"\n[weights]\nrandom = true\n";
  const ModelSpec spec = parse_model_toml_string(toml, "huge.toml", "/tmp");
  for (Policy policy : {Policy::UM, Policy::UMPrefetch}) {
    EngineConfig cfg = gputest::cuda_config(policy);
    const auto t0 = std::chrono::steady_clock::now();
    try {
      Engine engine(spec, cfg);
      ADD_FAILURE() << policy_name(policy) << ": a ~350 GB model was placed in managed memory";
    } catch (const ResourceExhausted& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("managed weights"), std::string::npos) << msg;
      EXPECT_NE(msg.find("--policy stream"), std::string::npos) << msg;
    }
    // Loading even 1% of it would take far longer: nothing was loaded.
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 20.0);
  }
}

// --gpu-mem-limit: the device is treated as that small, so the budget is capped and layers stream.
TEST(GpuGuard, GpuMemLimitCapsTheBudget) {
  FERRY_REQUIRE_GPU();
  const ModelSpec spec = gputest::tiny_spec(6, 3);
  EngineConfig cfg = gputest::cuda_config(Policy::Stream);
  {
    Engine probe(spec, cfg);
    EXPECT_EQ(probe.plan().resident_layers, 6);
    // Room for the reserve, the static pack and about 3 of the 6 blocks.
    cfg.gpu_mem_limit = probe.reserved_bytes() + probe.plan().model_bytes / 2;
  }
  const gputest::Outcome o = gputest::run(spec, cfg);
  EXPECT_LT(o.plan.resident_layers, 6);
  EXPECT_LE(o.stats.budget + o.reserved, cfg.gpu_mem_limit);
  EXPECT_LE(o.stats.peak_resident, o.stats.budget);
  bool noted = false;
  for (const std::string& n : o.plan.notes) noted = noted || n.find("--gpu-mem-limit") != std::string::npos;
  EXPECT_TRUE(noted) << o.plan.summary();
  const gputest::Outcome ref = gputest::run(spec, gputest::cuda_config(Policy::Resident));
  EXPECT_EQ(o.logits, ref.logits);
}

// A batch that needs more device memory than the reserve is refused (exit code 3), not allocated.
TEST(GpuGuard, BatchBeyondTheReserveIsResourceExhausted) {
  FERRY_REQUIRE_GPU();
  const ModelSpec spec = gputest::tiny_spec(2, 3);
  EngineConfig cfg = gputest::cuda_config(Policy::Resident);
  cfg.max_batch_tokens = 16;
  cfg.max_sequences = 2;
  Engine engine(spec, cfg);
  GenerateRequest req;
  req.prompts = {{1, 2, 3}, {4, 5}};
  req.max_new_tokens = 4;
  EXPECT_NO_THROW((void)engine.generate(req));  // 2 x (3 + 4) = 14 positions
  req.prompts = {{1, 2, 3}, {4, 5}, {6}, {7}, {8}, {9}};
  req.max_new_tokens = 20;
  try {
    (void)engine.generate(req);
    ADD_FAILURE() << "6 sequences x 23 positions fit a reserve for 16";
  } catch (const ResourceExhausted& e) {
    EXPECT_NE(std::string(e.what()).find("--max-batch-tokens"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ferry
