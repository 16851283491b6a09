// Placement on the GPU: every policy, prefetch depth 1..3, streams 1..4 and budget 100/60/35%
// gives logits bit-identical (memcmp) to `resident` on the GPU, the peak of resident weight bytes
// stays within the budget, and the device memory in use during a run (cudaMemGetInfo, sampled by a
// second thread) stays within budget + reserve + a stated slack. Skips visibly without a GPU.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "base/units.h"
#include "tests/gpu/gpu_util.h"
#include "tests/support/timeline_checks.h"

namespace ferry {
namespace {

using gputest::cuda_config;
using gputest::Outcome;
using gputest::run;

using ferry::test::expect_compute_after_prefetch;

TEST(GpuPolicies, EveryPolicyDepthAndStreamCountIsBitIdenticalAndWithinBudget) {
  FERRY_REQUIRE_GPU();
  // 6 blocks: 7 packs of 2 MiB, so budgets of 35-60% leave room for only part of the model.
  const ModelSpec spec = gputest::tiny_spec(6, 11);
  const Outcome ref = run(spec, cuda_config(Policy::Resident));
  ASSERT_FALSE(ref.logits.empty());
  for (Policy policy : {Policy::UM, Policy::UMPrefetch, Policy::Stream, Policy::Auto, Policy::Resident}) {
    for (const char* budget : {"100%", "60%", "35%"}) {
      if (policy == Policy::Resident && std::string(budget) != "100%") continue;
      for (int depth = 1; depth <= 3; ++depth) {
        for (int streams = 1; streams <= 4; ++streams) {
          const std::string what = std::string(policy_name(policy)) + " budget " + budget + " depth " +
                                   std::to_string(depth) + " streams " + std::to_string(streams);
          EngineConfig cfg = cuda_config(policy);
          cfg.budget = parse_budget(budget, "--budget");
          cfg.prefetch_depth = depth;
          cfg.streams = streams;
          const Outcome o = run(spec, cfg, 4, /*trace=*/true);
          ASSERT_EQ(o.logits.size(), ref.logits.size()) << what;
          EXPECT_EQ(std::memcmp(o.logits.data(), ref.logits.data(), o.logits.size() * sizeof(float)), 0)
              << what << ": logits differ from resident on the GPU";
          EXPECT_EQ(o.tokens, ref.tokens) << what;
          EXPECT_LE(o.stats.peak_resident, o.stats.budget) << what;
          EXPECT_GT(o.stats.peak_resident, 0u) << what;
          if (std::string(budget) == "35%") {
            EXPECT_LT(o.plan.resident_layers, 6) << what << ": nothing streams";
          }
          expect_compute_after_prefetch(o.timeline, 6, 4, what);
        }
      }
    }
  }
}

// About 130 MiB of f32 weights in blocks of 14 MiB: large enough that a placement keeping more than
// its budget on the device shows up in cudaMemGetInfo.
ModelSpec memory_model() {
  const std::string toml =
      "[model]\nname = \"mem\"\nvocab_size = 8192\ncontext_length = 128\nhidden_size = 512\nnum_layers = 8\n"
      "num_heads = 8\nffn_size = 2048\ndtype = \"f32\"\n[weights]\nrandom = true\nseed = 5\n";
  return parse_model_toml_string(toml, "mem.toml", "/tmp");
}

// Samples the device's free memory from a second thread while it lives; min_free() is the lowest
// value seen (cudaMemGetInfo through Backend::memory_info, callable from any host thread).
class FreeMemorySampler {
 public:
  explicit FreeMemorySampler(const Backend& be) : be_(be), min_free_(be.memory_info().free_bytes) {
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        const std::uint64_t f = be_.memory_info().free_bytes;
        std::uint64_t cur = min_free_.load();
        while (f < cur && !min_free_.compare_exchange_weak(cur, f)) {
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    });
  }
  ~FreeMemorySampler() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::uint64_t min_free() const { return min_free_.load(); }

 private:
  const Backend& be_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> min_free_;
  std::thread thread_;
};

// Device memory in use during a run: free memory is measured before the engine is made and sampled
// until it is gone (loading, prefill, decode). The model is large enough (about 130 MiB, blocks of
// 14 MiB) that a placement keeping more than the budget on the device shows up.
// Slack: 48 MiB, for what neither the budget nor the reserve counts: cudaMalloc rounds every
// allocation up to its 2 MiB granularity (~20 buffers per run: packs, slots, batch buffers), and
// the CUDA runtime and the driver keep some memory of their own for streams and events. The ops'
// cuBLASLt workspace and scratch (64 MiB, made on the first launch) are in the reserve, and they
// already exist when the baseline is measured (a warm-up run), so they are counted twice, on the
// safe side.
TEST(GpuPolicies, DeviceMemoryInUseStaysWithinBudgetPlusReserve) {
  FERRY_REQUIRE_GPU();
  const ModelSpec spec = memory_model();
  (void)run(spec, cuda_config(Policy::Resident), 2);  // warm-up: the ops' context, cuBLASLt's state
  constexpr std::uint64_t kSlack = std::uint64_t{48} << 20;
  auto probe_backend = make_backend(DeviceKind::CUDA, 0);
  for (Policy policy : {Policy::Resident, Policy::UM, Policy::UMPrefetch, Policy::Stream}) {
    for (const char* budget : {"100%", "35%"}) {
      if (policy == Policy::Resident && std::string(budget) != "100%") continue;
      const std::string what = std::string(policy_name(policy)) + " budget " + budget;
      EngineConfig cfg = cuda_config(policy);
      cfg.budget = parse_budget(budget, "--budget");
      const std::uint64_t free0 = probe_backend->memory_info().free_bytes;
      Outcome o;
      std::uint64_t min_free = 0;
      {
        FreeMemorySampler sampler(*probe_backend);
        o = run(spec, cfg, 6);
        sampler.stop();
        min_free = sampler.min_free();
      }
      const std::uint64_t used = free0 > min_free ? free0 - min_free : 0;
      const std::uint64_t allowed = o.stats.budget + o.reserved + kSlack;
      EXPECT_LE(used, allowed) << what << ": device memory in use " << format_bytes(used) << " > budget "
                               << format_bytes(o.stats.budget) << " + reserve " << format_bytes(o.reserved)
                               << " + slack " << format_bytes(kSlack);
      EXPECT_LE(o.stats.peak_resident, o.stats.budget) << what;
      if (std::string(budget) == "35%") {
        EXPECT_LT(o.stats.budget, o.stats.model_bytes) << what;
        if (policy == Policy::UM) {  // nothing is fetched (pages fault in); evictions migrate pages back
          EXPECT_GT(o.stats.bytes_d2h, 0u) << what;
        } else {
          EXPECT_GT(o.stats.bytes_h2d, o.stats.model_bytes) << what << ": streamed blocks cross the link every step";
        }
      }
      std::printf("[ memory ] %-12s budget %-5s used %s of budget %s + reserve %s\n", policy_name(policy), budget,
                  format_bytes(used).c_str(), format_bytes(o.stats.budget).c_str(), format_bytes(o.reserved).c_str());
    }
  }
}

// `auto` runs a model larger than the device (here: --gpu-mem-limit) without --allow-oversubscribe:
// as many layers resident as fit, the rest streamed, and the device memory in use stays within the
// limit (cudaMemGetInfo, sampled while it runs).
TEST(GpuPolicies, AutoRunsAModelLargerThanTheDevice) {
  FERRY_REQUIRE_GPU();
  const ModelSpec spec = memory_model();
  EngineConfig cfg = cuda_config(Policy::Auto);
  const std::uint64_t model = [&] {
    std::uint64_t n = 0;
    for (std::uint64_t b : model_pack_bytes(spec, WeightsMode::Stored)) n += b;
    return n;
  }();
  auto probe_backend = make_backend(DeviceKind::CUDA, 0);
  const std::uint64_t free0 = probe_backend->memory_info().free_bytes;
  FreeMemorySampler sampler(*probe_backend);
  // Half the model, plus the reserve (the batch and the ops' 64 MiB of cuBLASLt workspace and scratch).
  cfg.gpu_mem_limit = model / 2 + batch_reserve_bytes(spec, cfg.max_batch_tokens, cfg.max_sequences) + (std::uint64_t{96} << 20);
  const Outcome o = run(spec, cfg, 4);
  sampler.stop();
  const std::uint64_t used = free0 > sampler.min_free() ? free0 - sampler.min_free() : 0;
  EXPECT_LE(used, cfg.gpu_mem_limit + (std::uint64_t{48} << 20)) << format_bytes(used);
  EXPECT_LT(o.stats.budget, o.stats.model_bytes);
  EXPECT_EQ(o.plan.policy, Policy::Stream) << o.plan.summary();
  EXPECT_GT(o.plan.resident_layers, 0) << o.plan.summary();
  EXPECT_GT(o.plan.streamed_layers, 0) << o.plan.summary();
  EXPECT_GT(o.stats.bytes_h2d, 0u) << "the streamed layers cross the link";
}

}  // namespace
}  // namespace ferry
