// The synthetic model of the LayerPipeline tests: pack 0 plus kBlocks blocks of uneven sizes, each
// filled with a pattern a compute task can check, placed by any policy on the CPU backend; and a
// run of kSteps steps that records, per block, whether the compute saw the filled bytes.
#pragma once
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "base/backend.h"
#include "base/cpu_backend.h"
#include "memory/placement.h"
#include "scheduler/pipeline.h"
#include "scheduler/planner.h"

namespace ferry::pipetest {

constexpr int kBlocks = 8;
constexpr int kSteps = 3;

inline std::byte pattern(int pack, std::size_t j) {
  return static_cast<std::byte>((pack * 37 + j * 13 + (j >> 10)) & 0xff);
}

// pack 0 = 24 KiB; block b = 16 KiB + b * 3 KiB + 100 bytes (uneven, not page multiples).
inline std::vector<std::uint64_t> pack_sizes() {
  std::vector<std::uint64_t> s{24 * 1024};
  for (int b = 0; b < kBlocks; ++b) s.push_back(16 * 1024 + static_cast<std::uint64_t>(b) * 3 * 1024 + 100);
  return s;
}

struct Model {
  std::vector<std::uint64_t> sizes = pack_sizes();
  std::vector<std::vector<std::byte>> expected;  // per pack
  std::uint64_t total = 0;
  Model() {
    for (std::size_t p = 0; p < sizes.size(); ++p) {
      std::vector<std::byte> v(sizes[p]);
      for (std::size_t j = 0; j < v.size(); ++j) v[j] = pattern(static_cast<int>(p), j);
      expected.push_back(std::move(v));
      total += sizes[p];
    }
  }
  std::unique_ptr<Placement> placement(Backend& backend, const Plan& plan) const {
    PlacementConfig cfg;
    cfg.policy = plan.policy;
    cfg.pack_bytes.assign(sizes.begin(), sizes.end());
    cfg.keep = plan.keep;
    cfg.slots = plan.slots;
    cfg.pack_dir = ::testing::TempDir();
    auto pl = make_placement(backend, cfg);
    for (std::size_t p = 0; p < sizes.size(); ++p) {
      std::memcpy(pl->fill_begin(static_cast<int>(p)), expected[p].data(), sizes[p]);
      pl->fill_end(static_cast<int>(p));
    }
    return pl;
  }
};

struct Outcome {
  std::vector<std::vector<int>> seen;  // [step][block]: 1 = bytes matched, 0 = mismatch, -1 = not run
  int static_ok = -1;
};

// Runs kSteps steps on `pipe`; fills `out` from tasks on the compute stream.
inline void run_steps(LayerPipeline& pipe, const Model& m, Outcome& out) {
  out.seen.assign(kSteps, std::vector<int>(kBlocks, -1));
  const std::byte* st = pipe.static_pack();
  cpu_stream(pipe.compute_stream(), "test").enqueue([&out, &m, st] {
    out.static_ok = std::memcmp(st, m.expected[0].data(), m.sizes[0]) == 0 ? 1 : 0;
  });
  for (int step = 0; step < kSteps; ++step) {
    pipe.run_step(
        step,
        [&out, &m, step](int block, const std::byte* w, Stream& s) {
          const auto p = static_cast<std::size_t>(block) + 1;
          cpu_stream(s, "test").enqueue([&out, &m, step, block, w, p] {
            out.seen[static_cast<std::size_t>(step)][static_cast<std::size_t>(block)] =
                std::memcmp(w, m.expected[p].data(), m.sizes[p]) == 0 ? 1 : 0;
          });
        },
        step + 1 < kSteps);
  }
  pipe.synchronize();
}

// Every block of every step saw its filled bytes, and so did pack 0.
inline void expect_all_seen(const Outcome& out) {
  EXPECT_EQ(out.static_ok, 1);
  for (int s = 0; s < kSteps; ++s)
    for (int b = 0; b < kBlocks; ++b)
      ASSERT_EQ(out.seen[static_cast<std::size_t>(s)][static_cast<std::size_t>(b)], 1) << "step " << s << " block " << b;
}

}  // namespace ferry::pipetest
