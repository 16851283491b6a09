// A failure mid-step is safe on the CUDA backend. An exception thrown by a host callback (which
// runs on the driver's thread, where an escaping exception ends the process) reaches the caller of
// synchronize() with its type and message; the stream's later callbacks are skipped until then,
// and the stream works again afterwards. An error injected after a block (EngineConfig::after_block,
// a host callback on the compute stream) reaches generate()'s caller, and the same Engine then
// gives logits memcmp-identical to a fresh engine's. Skips visibly without a GPU.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include "base/error.h"
#include "tests/gpu/gpu_util.h"

namespace ferry {
namespace {

struct Injected : std::runtime_error {
  using std::runtime_error::runtime_error;
};

TEST(GpuFailure, AnExceptionInAHostCallbackReachesSynchronize) {
  FERRY_REQUIRE_GPU();
  auto backend = make_backend(DeviceKind::CUDA, 0);
  auto stream = backend->create_stream(0);
  std::atomic<int> ran{0};
  backend->host_callback(*stream, [&ran] { ++ran; });
  backend->host_callback(*stream, [] { throw Injected("callback failed"); });
  backend->host_callback(*stream, [&ran] { ran += 10; });  // skipped: the stream has failed
  try {
    stream->synchronize();
    ADD_FAILURE() << "synchronize() did not rethrow the callback's exception";
  } catch (const Injected& e) {
    EXPECT_EQ(std::string(e.what()), "callback failed");
  }
  EXPECT_EQ(ran.load(), 1);
  // The error was reported once; the stream runs callbacks again.
  backend->host_callback(*stream, [&ran] { ran += 100; });
  EXPECT_NO_THROW(stream->synchronize());
  EXPECT_EQ(ran.load(), 101);
}

TEST(GpuFailure, AnErrorAfterABlockReachesTheCallerAndTheEngineRunsOn) {
  FERRY_REQUIRE_GPU();
  const ModelSpec spec = gputest::tiny_spec(6, 11);
  const gputest::Outcome ref = gputest::run(spec, gputest::cuda_config(Policy::Resident));
  ASSERT_FALSE(ref.logits.empty());
  for (Policy policy : {Policy::Resident, Policy::UMPrefetch, Policy::Stream}) {
    auto armed = std::make_shared<std::atomic<int>>(-1);  // step * 100 + block, -1 = none
    EngineConfig cfg = gputest::cuda_config(policy);
    cfg.budget = parse_budget(policy == Policy::Resident ? "100%" : "35%", "--budget");
    cfg.after_block = [armed](int step, int block) {
      if (step * 100 + block == armed->load())
        throw Injected("injected failure after step " + std::to_string(step) + " block " + std::to_string(block));
    };
    Engine engine(spec, cfg);
    GenerateRequest req;
    req.prompts = gputest::prompts();
    req.prompt_logits = true;
    req.max_new_tokens = 4;
    for (int step : {0, 3}) {
      for (int block : {0, 5}) {
        const std::string what = std::string(policy_name(policy)) + " step " + std::to_string(step) + " block " +
                                 std::to_string(block);
        armed->store(step * 100 + block);
        EXPECT_THROW(engine.generate(req), Injected) << what;
        armed->store(-1);
        const GenerateResult res = engine.generate(req);
        ASSERT_EQ(res.prompt_logits.size(), ref.logits.size()) << what;
        EXPECT_EQ(std::memcmp(res.prompt_logits.data(), ref.logits.data(), ref.logits.size() * sizeof(float)), 0)
            << what << ": logits differ from a fresh engine's";
        EXPECT_LE(res.stats.peak_resident, res.stats.budget) << what;
      }
    }
  }
}

}  // namespace
}  // namespace ferry
