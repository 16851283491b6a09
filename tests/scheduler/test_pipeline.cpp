// LayerPipeline on the CPU backend with a synthetic model: every policy x depth x streams x budget
// sees exactly the filled bytes for 3 steps, under the budget, with every compute after its fetch.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/backend.h"
#include "base/cpu_backend.h"
#include "base/error.h"
#include "memory/placement.h"
#include "memory/residency.h"
#include "scheduler/pipeline.h"
#include "scheduler/planner.h"
#include "scheduler/timeline.h"
#include "tests/scheduler/pipeline_model.h"

namespace ferry {
namespace {

using namespace pipetest;

// Runs kSteps steps on a fresh pipeline; fills `out` from tasks on the compute stream.
void run(Backend& backend, const Model& m, const Plan& plan, Placement& pl, Residency& res, Timeline* tl, Outcome& out) {
  LayerPipeline pipe(backend, plan, pl, res, tl);
  ASSERT_EQ(pipe.num_blocks(), kBlocks);
  run_steps(pipe, m, out);
}

const TimelineRecord* find(const std::vector<TimelineRecord>& recs, TimelineKind k, int pack, int step) {
  const TimelineRecord* hit = nullptr;
  for (const auto& r : recs)
    if (r.kind == k && r.pack == pack && (step < 0 || r.step == step)) {
      if (hit) return nullptr;  // ambiguous: the caller expects exactly one
      hit = &r;
    }
  return hit;
}

TEST(LayerPipeline, EveryPolicyDepthStreamsBudgetSeesTheFilledBytes) {
  auto backend = make_backend(DeviceKind::CPU, 0, 1);
  const Model m;
  int combos = 0;
  for (Policy policy : {Policy::Auto, Policy::Resident, Policy::UM, Policy::UMPrefetch, Policy::Stream}) {
    for (int pct : {100, 50, 30}) {
      const std::uint64_t budget = m.total * static_cast<std::uint64_t>(pct) / 100;
      for (int depth = 1; depth <= 3; ++depth) {
        // One placement serves every stream count (the plan's keep and slots do not depend on it).
        std::map<int, std::unique_ptr<Placement>> placements;
        for (int streams = 1; streams <= 4; ++streams) {
          PlanRequest req;
          req.policy = policy;
          req.budget = budget;
          req.depth = depth;
          req.streams = streams;
          req.pack_bytes = m.sizes;
          if (policy == Policy::Resident && pct < 100) {
            EXPECT_THROW(make_plan(req), ResourceExhausted);
            continue;
          }
          const Plan plan = make_plan(req);
          SCOPED_TRACE(std::string(policy_name(policy)) + " " + std::to_string(pct) + "% depth " +
                       std::to_string(depth) + " streams " + std::to_string(streams) + ": " + plan.summary());
          if (pct < 100) {
            ASSERT_GT(plan.streamed_layers, 0);
          }
          auto& pl = placements[plan.slots * 1000 + plan.resident_layers];
          if (!pl) pl = m.placement(*backend, plan);
          Residency res(plan.budget, m.sizes);
          Timeline tl(*backend);
          Outcome out;
          run(*backend, m, plan, *pl, res, &tl, out);
          ++combos;

          EXPECT_EQ(out.static_ok, 1);
          for (int s = 0; s < kSteps; ++s)
            for (int b = 0; b < kBlocks; ++b)
              ASSERT_EQ(out.seen[static_cast<std::size_t>(s)][static_cast<std::size_t>(b)], 1)
                  << "step " << s << " block " << b;
          EXPECT_LE(res.peak_bytes(), plan.budget);
          EXPECT_LE(res.peak_bytes(), budget);
          EXPECT_LE(res.peak_bytes(), plan.planned_peak);

          // Bytes moved: kept packs once, streamed packs once per step (nothing fetched past the last step).
          std::uint64_t kept = 0, streamed = 0;
          for (std::size_t p = 0; p < m.sizes.size(); ++p) (plan.keep[p] ? kept : streamed) += m.sizes[p];
          // (um moves the same bytes, by page faults during the compute.)
          const bool moves = plan.policy != Policy::Resident;
          EXPECT_EQ(res.bytes_h2d(), moves ? kept + kSteps * streamed : 0u);
          EXPECT_EQ(res.fetches(), static_cast<std::uint64_t>(1 + plan.resident_layers + kSteps * plan.streamed_layers));

          tl.resolve();
          const auto& recs = tl.records();
          for (const auto& r : recs) {
            if (r.kind != TimelineKind::Compute) continue;
            EXPECT_EQ(r.stream, 0);
            const bool is_kept = plan.keep[static_cast<std::size_t>(r.pack)];
            const TimelineRecord* f = find(recs, TimelineKind::Prefetch, r.pack, is_kept ? -1 : r.step);
            ASSERT_NE(f, nullptr) << "no unique prefetch for " << r.name << " step " << r.step;
            EXPECT_GE(r.begin_us, f->end_us) << r.name << " step " << r.step << " began before its prefetch ended";
            if (plan.streams == 1) {
              EXPECT_EQ(f->stream, 0);
            } else {
              EXPECT_GE(f->stream, 1);
            }
          }
          int evicts = 0;
          for (const auto& r : recs) {
            if (r.kind != TimelineKind::Evict) continue;
            ++evicts;
            const TimelineRecord* c = find(recs, TimelineKind::Compute, r.pack, r.step);
            ASSERT_NE(c, nullptr) << r.name;
            EXPECT_GE(r.begin_us, c->end_us) << r.name << " step " << r.step << " evicted during its compute";
          }
          EXPECT_EQ(static_cast<std::uint64_t>(evicts), res.evictions());
          EXPECT_EQ(res.evictions(), static_cast<std::uint64_t>(kSteps * plan.streamed_layers - plan.slots));
        }
      }
    }
  }
  EXPECT_EQ(combos, 4 * 3 * 3 * 4 + 3 * 4);
}

TEST(LayerPipeline, WindowWrapsIntoTheNextStep) {
  auto backend = make_backend(DeviceKind::CPU, 0, 1);
  const Model m;
  PlanRequest req;
  req.policy = Policy::Stream;
  req.budget = m.total * 7 / 10;
  req.depth = 2;
  req.streams = 2;
  req.pack_bytes = m.sizes;
  const Plan plan = make_plan(req);
  ASSERT_EQ(plan.slots, 3);
  ASSERT_GT(plan.streamed_layers, plan.slots);
  int first = -1;  // the first streamed block's pack
  for (int p = 1; p <= kBlocks; ++p)
    if (!plan.keep[static_cast<std::size_t>(p)]) {
      first = p;
      break;
    }
  auto pl = m.placement(*backend, plan);
  const auto noop = [](int, const std::byte*, Stream&) {};
  for (bool follows : {false, true}) {
    Residency res(plan.budget, m.sizes);
    LayerPipeline pipe(*backend, plan, *pl, res, nullptr);
    pipe.run_step(0, noop, follows);
    // Without a next step the first streamed block's slot was reused; with one, it is already
    // fetched again for step 1 (the window wrapped).
    EXPECT_EQ(res.resident(first), follows);
    pipe.synchronize();
  }
}

TEST(LayerPipeline, ErrorsInTheWorkSurfaceAtSynchronize) {
  auto backend = make_backend(DeviceKind::CPU, 0, 1);
  const Model m;
  PlanRequest req;
  req.budget = m.total / 2;
  req.pack_bytes = m.sizes;
  const Plan plan = make_plan(req);
  auto pl = m.placement(*backend, plan);
  Residency res(plan.budget, m.sizes);
  LayerPipeline pipe(*backend, plan, *pl, res, nullptr);
  pipe.static_pack();
  // The failure is in the last block: a CPU stream poisoned earlier skips the event records that
  // the copy streams wait on (base/cpu_backend), which would hang the other streams.
  pipe.run_step(
      0,
      [](int block, const std::byte*, Stream& s) {
        if (block == kBlocks - 1) cpu_stream(s, "test").enqueue([] { throw std::runtime_error("kernel failed"); });
      },
      false);
  EXPECT_THROW(pipe.synchronize(), std::runtime_error);
}

}  // namespace
}  // namespace ferry
