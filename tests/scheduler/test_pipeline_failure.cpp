// LayerPipeline failures: a fetch or a compute that fails on the host or in the work, at the first,
// a middle and the last position, for every policy and with one or several streams. The error
// reaches the caller unchanged; the FailureGuard drains every stream before the caller's buffers
// go (a witness buffer is freed right after: under ASan a late task is a use-after-free, and every
// build counts tasks that run after it); the pipeline then runs as a fresh one would. A recovery
// that cannot evict leaves a pipeline that refuses further work, and the destructor of a pipeline
// whose step failed neither throws nor hangs.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "base/backend.h"
#include "base/cpu_backend.h"
#include "base/error.h"
#include "memory/placement.h"
#include "memory/residency.h"
#include "scheduler/pipeline.h"
#include "scheduler/planner.h"
#include "tests/scheduler/pipeline_model.h"

namespace ferry {
namespace {

using namespace pipetest;

// The tests' own error type: what reaches the caller must be this, not a translation of it.
struct Injected : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class Where { Host, Work };  // thrown by the issuing call, or by a task on a stream
const char* where_name(Where w) { return w == Where::Host ? "host" : "work"; }

// Forwards to a real placement. Its fail_fetch-th fetch (1-based, over the pipeline's life) fails
// on the host (fetch throws before queuing anything) or in the work (the copy is queued, then a
// task that throws); with fail_evicts every evict throws on the host.
class FailingPlacement final : public Placement {
 public:
  explicit FailingPlacement(Placement& inner) : inner_(inner) {}
  int fail_fetch = 0;
  Where where = Where::Host;
  bool fail_evicts = false;
  int fetches = 0;
  std::string injected;  // the message of the failure it raised

  Policy policy() const override { return inner_.policy(); }
  std::byte* fill_begin(int pack) override { return inner_.fill_begin(pack); }
  void fill_end(int pack) override { inner_.fill_end(pack); }
  std::uint64_t fetch(int pack, int slot, Stream& s) override {
    if (++fetches != fail_fetch) return inner_.fetch(pack, slot, s);
    const std::string what = "injected failure in fetch " + std::to_string(fetches) + " (pack " + std::to_string(pack) + ")";
    injected = what;
    if (where == Where::Host) throw Injected(what);
    const std::uint64_t moved = inner_.fetch(pack, slot, s);
    cpu_stream(s, "test").enqueue([what] { throw Injected(what); });
    return moved;
  }
  std::uint64_t evict(int pack, int slot, Stream& s) override {
    if (fail_evicts) throw Injected("injected failure in evict (pack " + std::to_string(pack) + ")");
    return inner_.evict(pack, slot, s);
  }
  const std::byte* compute_ptr(int pack, int slot) const override { return inner_.compute_ptr(pack, slot); }

 private:
  Placement& inner_;
};

// Stands for the caller's buffers: every compute task sleeps a little (so work is still queued
// when the host fails) and writes a cell of `cells`, which the test frees once the pipeline said
// it is drained. A task running after that is counted (and is a use-after-free under ASan).
struct Witness {
  std::unique_ptr<std::vector<int>> cells = std::make_unique<std::vector<int>>(kSteps * kBlocks * 4, 0);
  std::atomic<bool> released{false};
  std::atomic<int> ran{0}, late{0};

  void enqueue(Stream& s, int step, int block) {
    int* cell = cells->data() + step * kBlocks + block;
    cpu_stream(s, "witness").enqueue([this, cell] {
      std::this_thread::sleep_for(std::chrono::microseconds(300));
      if (released.load()) ++late;
      *cell += 1;
      ++ran;
    });
  }
  void release() {
    released.store(true);
    cells.reset();
  }
};

// A compute that fails at (step, block), on the host (the BlockFn throws) or in the work.
struct ComputeFailure {
  int step = -1, block = -1;
  Where where = Where::Host;
};

std::string compute_message(int step, int block) {
  return "injected failure in compute of step " + std::to_string(step) + " block " + std::to_string(block);
}

// Runs kSteps steps under a FailureGuard, as the Engine does; returns the injected error's message
// ("" when nothing failed). Any other exception fails the test.
std::string run_guarded(LayerPipeline& pipe, Witness& w, const ComputeFailure& cf) {
  try {
    const LayerPipeline::FailureGuard guard(pipe);
    pipe.static_pack();
    for (int step = 0; step < kSteps; ++step) {
      pipe.run_step(
          step,
          [&w, &cf, step](int block, const std::byte*, Stream& s) {
            w.enqueue(s, step, block);
            if (step != cf.step || block != cf.block) return;
            const std::string what = compute_message(step, block);
            if (cf.where == Where::Host) throw Injected(what);
            cpu_stream(s, "test").enqueue([what] { throw Injected(what); });
          },
          step + 1 < kSteps);
    }
    pipe.synchronize();
  } catch (const Injected& e) {
    return e.what();
  }
  return "";
}

struct PlanCase {
  Policy policy;
  int pct;  // budget, % of the model
};

Plan plan_for(const Model& m, PlanCase s, int streams) {
  PlanRequest req;
  req.policy = s.policy;
  req.budget = m.total * static_cast<std::uint64_t>(s.pct) / 100;
  req.depth = 2;
  req.streams = streams;
  req.pack_bytes = m.sizes;
  return make_plan(req);
}

// After the failed run (message `got`, expected `want`): the witness saw no late task, nothing is
// resident, and the same pipeline then runs kSteps clean steps with the fetches of a fresh one.
void expect_recovered(LayerPipeline& pipe, const Model& m, const Plan& plan, Residency& res, Witness& w,
                      const std::string& got, const std::string& want) {
  EXPECT_EQ(got, want);
  w.release();
  EXPECT_EQ(res.resident_bytes(), 0u) << "recover() left packs resident";
  EXPECT_NO_THROW(pipe.check_usable());
  res.reset_counters();
  Outcome out;
  run_steps(pipe, m, out);
  expect_all_seen(out);
  EXPECT_EQ(res.fetches(), static_cast<std::uint64_t>(1 + plan.resident_layers + kSteps * plan.streamed_layers));
  EXPECT_LE(res.peak_bytes(), plan.budget);
  EXPECT_EQ(w.late.load(), 0) << "a task ran after the pipeline said every stream was drained";
}

const PlanCase kPlanCases[] = {{Policy::Stream, 50}, {Policy::UMPrefetch, 50}, {Policy::UM, 50}, {Policy::Resident, 100}};

TEST(LayerPipelineFailure, AFailedFetchReachesTheCallerAndIsUndone) {
  auto backend = make_backend(DeviceKind::CPU, 0, 1);
  const Model m;
  int cases = 0;
  for (const PlanCase setup : kPlanCases) {
    for (int streams : {1, 3}) {
      const Plan plan = plan_for(m, setup, streams);
      auto inner = m.placement(*backend, plan);
      const int n = 1 + plan.resident_layers + kSteps * plan.streamed_layers;  // fetches of kSteps steps
      for (Where where : {Where::Host, Where::Work}) {
        for (int at : {1, n / 2, n}) {
          SCOPED_TRACE(std::string(policy_name(plan.policy)) + " streams " + std::to_string(streams) + ", " +
                       where_name(where) + " failure in fetch " + std::to_string(at) + " of " + std::to_string(n));
          FailingPlacement pl(*inner);
          pl.fail_fetch = at;
          pl.where = where;
          Residency res(plan.budget, m.sizes);
          Witness w;
          LayerPipeline pipe(*backend, plan, pl, res, nullptr);
          const std::string got = run_guarded(pipe, w, ComputeFailure{});
          ASSERT_FALSE(pl.injected.empty()) << "fetch " << at << " was never issued";
          expect_recovered(pipe, m, plan, res, w, got, pl.injected);
          ++cases;
        }
      }
    }
  }
  EXPECT_EQ(cases, 4 * 2 * 2 * 3);
}

TEST(LayerPipelineFailure, AFailedComputeReachesTheCallerAndIsUndone) {
  auto backend = make_backend(DeviceKind::CPU, 0, 1);
  const Model m;
  for (const PlanCase setup : kPlanCases) {
    for (int streams : {1, 3}) {
      const Plan plan = plan_for(m, setup, streams);
      auto pl = m.placement(*backend, plan);
      for (Where where : {Where::Host, Where::Work}) {
        for (const auto& [step, block] : {std::pair{0, 0}, std::pair{1, kBlocks / 2}, std::pair{kSteps - 1, kBlocks - 1}}) {
          SCOPED_TRACE(std::string(policy_name(plan.policy)) + " streams " + std::to_string(streams) + ", " +
                       where_name(where) + " failure in step " + std::to_string(step) + " block " + std::to_string(block));
          Residency res(plan.budget, m.sizes);
          Witness w;
          LayerPipeline pipe(*backend, plan, *pl, res, nullptr);
          const std::string got = run_guarded(pipe, w, ComputeFailure{step, block, where});
          expect_recovered(pipe, m, plan, res, w, got, compute_message(step, block));
          // The host stops issuing at the failure; a failed task skips the rest of its stream.
          EXPECT_EQ(w.ran.load(), step * kBlocks + block + 1);
        }
      }
    }
  }
}

TEST(LayerPipelineFailure, ARecoveryThatCannotEvictRefusesFurtherWork) {
  auto backend = make_backend(DeviceKind::CPU, 0, 1);
  const Model m;
  const Plan plan = plan_for(m, {Policy::Stream, 50}, 2);
  auto inner = m.placement(*backend, plan);
  FailingPlacement pl(*inner);
  Residency res(plan.budget, m.sizes);
  Witness w;
  LayerPipeline pipe(*backend, plan, pl, res, nullptr);
  const std::string got = run_guarded(pipe, w, ComputeFailure{});
  ASSERT_EQ(got, "");
  pl.fail_evicts = true;
  pipe.recover();
  auto expect_refused = [](auto&& call, const char* what) {
    try {
      call();
      ADD_FAILURE() << what << " did not refuse";
    } catch (const InternalError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("could not be undone"), std::string::npos) << what << ": " << msg;
      EXPECT_NE(msg.find("injected failure in evict"), std::string::npos) << what << ": " << msg;
      EXPECT_NE(msg.find("create a new one"), std::string::npos) << what << ": " << msg;
    }
  };
  expect_refused([&] { pipe.check_usable(); }, "check_usable");
  expect_refused([&] { pipe.static_pack(); }, "static_pack");
  expect_refused([&] { pipe.run_step(0, [](int, const std::byte*, Stream&) {}, false); }, "run_step");
  pipe.recover();  // again: still refused, still no throw
  expect_refused([&] { pipe.check_usable(); }, "check_usable after a second recover");
}

TEST(LayerPipelineFailure, DestructorOfAFailedStepNeitherThrowsNorHangs) {
  auto backend = make_backend(DeviceKind::CPU, 0, 1);
  const Model m;
  const Plan plan = plan_for(m, {Policy::Stream, 50}, 3);
  auto pl = m.placement(*backend, plan);
  for (Where where : {Where::Host, Where::Work}) {
    SCOPED_TRACE(where_name(where));
    Residency res(plan.budget, m.sizes);
    Witness w;
    {
      LayerPipeline pipe(*backend, plan, *pl, res, nullptr);
      pipe.static_pack();
      // Step 0 fails at block 2; a failure in the work goes unnoticed on the host, which issues
      // step 1 too. Nobody synchronizes or recovers.
      for (int step = 0; step < (where == Where::Host ? 1 : 2); ++step) {
        try {
          pipe.run_step(
              step,
              [&w, where, step](int block, const std::byte*, Stream& s) {
                w.enqueue(s, step, block);
                if (step != 0 || block != 2) return;
                if (where == Where::Host) throw Injected("host");
                cpu_stream(s, "test").enqueue([] { throw Injected("work"); });
              },
              true);
        } catch (const Injected&) {
          EXPECT_EQ(where, Where::Host);
        }
      }
    }  // ~LayerPipeline: drains every stream, swallows the error
    w.release();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_GT(w.ran.load(), 0);
    EXPECT_EQ(w.late.load(), 0) << "a task ran after the pipeline was destroyed";
  }
}

}  // namespace
}  // namespace ferry
