// Helpers of the GPU tests: the skip without a device, small models, one engine run.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "base/backend.h"
#include "runtime/engine.h"
#include "tests/support/test_util.h"

// Skips the test visibly (ctest: "Skipped") on a machine without a CUDA device or without CUDA.
#define FERRY_REQUIRE_GPU()                                                                         \
  do {                                                                                              \
    if (::ferry::cuda_device_count() == 0)                                                          \
      GTEST_SKIP() << (::ferry::cuda_compiled() ? "no CUDA device on this machine"                 \
                                                : "ferry was built without CUDA (FERRY_CUDA=OFF)"); \
  } while (0)

namespace ferry::gputest {

// The tiny random GPT-2 of tests/support (vocab 101, hidden 96), in `dtype` ("f32", "f16", "bf16").
inline ModelSpec tiny_spec(int layers, std::uint64_t seed, const std::string& dtype = "f32") {
  std::string toml = test::tiny_toml(layers, seed);
  const std::string f32 = "dtype = \"f32\"";
  const auto at = toml.find(f32);
  if (at != std::string::npos) toml.replace(at, f32.size(), "dtype = \"" + dtype + "\"");
  return parse_model_toml_string(toml, "tiny-" + dtype + ".toml", "/tmp");
}

struct Outcome {
  std::vector<float> logits;                      // [prompt tokens, vocab]
  std::vector<std::vector<std::int32_t>> tokens;  // generated, per sequence
  RunStats stats;
  Plan plan;
  std::uint64_t reserved = 0;
  std::vector<TimelineRecord> timeline;
};

// A CUDA config with a small reserve (the tests' batches are tiny).
inline EngineConfig cuda_config(Policy policy = Policy::Resident) {
  EngineConfig c;
  c.device = DeviceKind::CUDA;
  c.policy = policy;
  c.progress = false;
  c.max_batch_tokens = 64;
  c.max_sequences = 4;
  return c;
}

inline const std::vector<std::vector<std::int32_t>>& prompts() {
  static const std::vector<std::vector<std::int32_t>> p = {{1, 2, 3, 4, 5}, {6}, {7, 8, 9}};
  return p;
}

inline Outcome run(const ModelSpec& spec, EngineConfig cfg, int new_tokens = 4, bool trace = false) {
  cfg.progress = false;
  cfg.trace = trace;
  Engine engine(spec, cfg);
  GenerateRequest req;
  req.prompts = prompts();
  req.prompt_logits = true;
  req.max_new_tokens = new_tokens;
  GenerateResult res = engine.generate(req);
  Outcome o;
  o.logits = std::move(res.prompt_logits);
  for (auto& s : res.sequences) o.tokens.push_back(s.generated_ids);
  o.stats = res.stats;
  o.plan = engine.plan();
  o.reserved = engine.reserved_bytes();
  if (engine.timeline()) o.timeline = engine.timeline()->records();
  return o;
}

// max |a - b| and max |b| over two logit arrays of equal size.
struct ErrStats {
  float max_err = 0, max_ref = 0;
};
inline ErrStats compare(const std::vector<float>& got, const std::vector<float>& ref) {
  ErrStats e;
  for (std::size_t i = 0; i < ref.size() && i < got.size(); ++i) {
    e.max_ref = std::max(e.max_ref, std::fabs(ref[i]));
    const float err = std::fabs(got[i] - ref[i]);
    e.max_err = std::isfinite(err) ? std::max(e.max_err, err) : INFINITY;  // a NaN must not hide
  }
  return e;
}

}  // namespace ferry::gputest
