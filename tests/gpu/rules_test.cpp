// The host-side rules of the CUDA backend, tested on any machine: the managed guard, the size of
// the managed region, the planner's reserve, and the batch sizes the reserve is computed from
// (which must equal what generate() allocates).
#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "base/error.h"
#include "memory/buffer.h"
#include "memory/placement_cuda.h"
#include "scheduler/planner.h"
#include "tests/gpu/gpu_util.h"

namespace ferry {
namespace {

constexpr std::uint64_t MiB = std::uint64_t{1} << 20;

TEST(ManagedGuard, FitsUpToTheFreeMemory) {
  EXPECT_NO_THROW(check_managed_fits(100 * MiB, 100 * MiB, 0, false));
  EXPECT_NO_THROW(check_managed_fits(0, 0, 0, false));
  EXPECT_THROW(check_managed_fits(100 * MiB + 1, 100 * MiB, 0, false), ResourceExhausted);
}

TEST(ManagedGuard, MessageNamesTheWaysOut) {
  try {
    check_managed_fits(3 * 1024 * MiB, 2 * 1024 * MiB, 0, false);
    FAIL() << "3 GiB of managed weights accepted with 2 GiB free";
  } catch (const ResourceExhausted& e) {
    EXPECT_EQ(std::string(e.what()),
              "managed weights 3.00 GiB exceed the device's free memory 2.00 GiB; use --budget to apply "
              "pressure, --policy stream, or --allow-oversubscribe (can hang some machines)");
    EXPECT_EQ(e.exit_code(), 3);
  }
}

TEST(ManagedGuard, TheLimitIsUsedWhenSmallerThanTheFreeMemory) {
  EXPECT_THROW(check_managed_fits(200 * MiB, 1024 * MiB, 100 * MiB, false), ResourceExhausted);
  EXPECT_NO_THROW(check_managed_fits(200 * MiB, 1024 * MiB, 300 * MiB, false));
  EXPECT_THROW(check_managed_fits(200 * MiB, 100 * MiB, 300 * MiB, false), ResourceExhausted);  // free is smaller
  try {
    check_managed_fits(200 * MiB, 1024 * MiB, 100 * MiB, false);
  } catch (const ResourceExhausted& e) {
    EXPECT_NE(std::string(e.what()).find("100.00 MiB (--gpu-mem-limit)"), std::string::npos) << e.what();
  }
}

TEST(ManagedGuard, OversubscriptionWhenAllowed) {
  EXPECT_NO_THROW(check_managed_fits(10 * 1024 * MiB, 100 * MiB, 50 * MiB, true));
}

TEST(ManagedGuard, RegionIsPacksAt2MiBOffsetsPlusAlignment) {
  EXPECT_EQ(managed_region_bytes({}), kPackAlign);
  EXPECT_EQ(managed_region_bytes({1, 2 * MiB, 2 * MiB + 1}), 2 * MiB + 2 * MiB + 4 * MiB + kPackAlign);
}

// pack 0 = 100 MiB, 8 blocks of 50 MiB: a 500 MiB model whose minimum budget is 150 MiB.
PlanRequest uniform(Policy p, std::uint64_t budget, std::uint64_t reserved) {
  PlanRequest r;
  r.policy = p;
  r.budget = budget;
  r.pack_bytes = {100 * MiB, 50 * MiB, 50 * MiB, 50 * MiB, 50 * MiB, 50 * MiB, 50 * MiB, 50 * MiB, 50 * MiB};
  r.device = DeviceKind::CUDA;
  r.reserved_bytes = reserved;
  return r;
}

bool has_note(const Plan& p, const std::string& text) {
  for (const std::string& n : p.notes)
    if (n.find(text) != std::string::npos) return true;
  return false;
}

TEST(PlannerReserve, IsTakenOutOfTheBudgetBeforeWeights) {
  const Plan with = make_plan(uniform(Policy::Stream, 400 * MiB, 100 * MiB));
  const Plan without = make_plan(uniform(Policy::Stream, 300 * MiB, 0));
  EXPECT_EQ(with.budget, 300 * MiB);
  EXPECT_EQ(with.reserved_bytes, 100 * MiB);
  EXPECT_EQ(with.keep, without.keep);
  EXPECT_EQ(with.planned_peak, without.planned_peak);
  EXPECT_LE(with.planned_peak, 300 * MiB);
  EXPECT_TRUE(has_note(with, "100.00 MiB reserved for activations, logits and the KV cache")) << with.summary();
  EXPECT_NE(with.summary().find("reserved"), std::string::npos) << with.summary();
  EXPECT_EQ(without.summary().find("reserved"), std::string::npos) << without.summary();
}

TEST(PlannerReserve, AModelThatFitsOnlyWithoutTheReserveStreams) {
  EXPECT_EQ(make_plan(uniform(Policy::Auto, 500 * MiB, 0)).policy, Policy::Resident);
  const Plan p = make_plan(uniform(Policy::Auto, 500 * MiB, 10 * MiB));
  EXPECT_NE(p.policy, Policy::Resident);
  EXPECT_LT(p.resident_layers, 8);
  EXPECT_THROW(make_plan(uniform(Policy::Resident, 500 * MiB, 10 * MiB)), ResourceExhausted);
}

TEST(PlannerReserve, NothingLeftForWeightsIsResourceExhausted) {
  EXPECT_THROW(make_plan(uniform(Policy::Stream, 100 * MiB, 100 * MiB)), ResourceExhausted);
  try {
    make_plan(uniform(Policy::Stream, 200 * MiB, 100 * MiB));  // 100 MiB left < 150 MiB minimum
    FAIL() << "a plan below the minimum budget";
  } catch (const ResourceExhausted& e) {
    EXPECT_NE(std::string(e.what()).find("reserved"), std::string::npos) << e.what();
  }
}

TEST(PlannerReserve, UnlimitedBudgetNotesTheReserve) {
  const Plan p = make_plan(uniform(Policy::Auto, std::numeric_limits<std::uint64_t>::max(), 10 * MiB));
  EXPECT_EQ(p.policy, Policy::Resident);
  EXPECT_EQ(p.budget, 500 * MiB);
  EXPECT_TRUE(has_note(p, "reserved")) << p.summary();
}

// batch_device_bytes() is what the CUDA reserve and generate()'s check are computed from: it must
// equal the bytes generate() really allocates (RunStats::batch_buffer_bytes), in every layout.
TEST(BatchBytes, EqualWhatGenerateAllocates) {
  const ModelSpec spec = gputest::tiny_spec(3, 5);
  for (Layout layout : {Layout::Nested, Layout::Padded}) {
    for (bool prompt_logits : {false, true}) {
      for (int n : {0, 1, 5}) {
        EngineConfig cfg;
        cfg.progress = false;
        cfg.layout = layout;
        Engine engine(spec, cfg);
        EXPECT_EQ(engine.reserved_bytes(), 0u);  // nothing is reserved on the CPU
        EXPECT_EQ(engine.plan().reserved_bytes, 0u);
        GenerateRequest req;
        req.prompts = {{1, 2, 3, 4, 5, 6, 7}, {8}, {9, 10, 11}};
        req.prompt_logits = prompt_logits;
        req.max_new_tokens = n;
        const GenerateResult res = engine.generate(req);
        const std::int64_t B = 3, max_len = 7, total = 11;
        const std::int64_t rows = layout == Layout::Padded ? B * max_len : total;
        const std::int64_t cap = max_len + std::max(n, 1);
        EXPECT_EQ(res.stats.batch_buffer_bytes,
                  batch_device_bytes(spec, B, rows, B * cap, prompt_logits ? rows : B, prompt_logits))
            << layout_name(layout) << " prompt_logits " << prompt_logits << " n " << n;
      }
    }
  }
}

TEST(BatchBytes, TheReserveCoversEveryBatchWithinTheLimits) {
  const ModelSpec spec = gputest::tiny_spec(3, 5);
  const std::uint64_t reserve = batch_reserve_bytes(spec, 64, 4);
  // 4 sequences x 16 positions, 40 prompt tokens; 1 sequence x 64 positions.
  EXPECT_LE(batch_device_bytes(spec, 4, 40, 64, 4, false), reserve);
  EXPECT_LE(batch_device_bytes(spec, 1, 60, 64, 1, false), reserve);
  EXPECT_EQ(batch_device_bytes(spec, 4, 64, 64, 4, false), reserve);
  EXPECT_GT(batch_device_bytes(spec, 4, 64, 65, 4, false), reserve);  // one KV position more
  EXPECT_GT(batch_device_bytes(spec, 8, 64, 8 * 30, 8, false), reserve);
  EXPECT_GT(batch_device_bytes(spec, 4, 64, 64, 64, true), reserve);    // prompt logits of 64 rows
  EXPECT_GT(batch_reserve_bytes(spec, 128, 4), reserve);
  EXPECT_GT(batch_reserve_bytes(spec, 64, 8), reserve);
}

TEST(CudaFlags, BadGpuMemLimitIsBadInput) {
  const test::CmdResult r = test::run_ferry("run -m gpt2 -n 1 --gpu-mem-limit lots");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--gpu-mem-limit"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ferry
