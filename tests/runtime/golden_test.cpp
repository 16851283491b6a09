// Golden model test: ferry's logits and greedy continuations for a tiny random GPT-2 checkpoint
// against an independent PyTorch implementation (scripts/golden/make_golden.py, outputs committed
// under tests/data/golden with their version tag).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "models/npy.h"
#include "runtime/engine.h"
#include "runtime/prompts.h"
#include "tests/support/test_util.h"

namespace {

const std::string kDir = std::string(FERRY_TEST_DATA) + "/golden";

struct Golden {
  std::vector<std::vector<std::int32_t>> prompts;
  std::vector<float> logits;
  std::int64_t rows = 0, cols = 0;
  nlohmann::json greedy;
};

Golden load_golden() {
  Golden g;
  g.prompts = ferry::read_prompt_ids_file(kDir + "/prompts.txt");
  ferry::NpyF32 npy = ferry::read_npy_f32(kDir + "/logits.npy");
  g.logits = std::move(npy.data);
  g.rows = npy.rows;
  g.cols = npy.cols;
  g.greedy = nlohmann::json::parse(ferry::test::read_text(kDir + "/greedy.json"));
  return g;
}

void check_against_golden(const ferry::EngineConfig& cfg) {
  const Golden g = load_golden();
  ASSERT_EQ(g.greedy["version"], "golden-v1");
  const ferry::ModelSpec spec = ferry::load_model_spec(kDir);
  ferry::Engine engine(spec, cfg);

  ferry::GenerateRequest req;
  req.prompts = g.prompts;
  req.prompt_logits = true;
  req.max_new_tokens = g.greedy["n"].get<int>();
  const ferry::GenerateResult res = engine.generate(req);

  ASSERT_EQ(static_cast<std::int64_t>(res.prompt_logits.size()), g.rows * g.cols);
  ASSERT_EQ(g.cols, spec.vocab_size);
  // fp32: within 1e-4 relative to the largest reference logit, element by element.
  float max_ref = 0, max_err = 0;
  for (std::size_t i = 0; i < g.logits.size(); ++i) {
    max_ref = std::max(max_ref, std::fabs(g.logits[i]));
    max_err = std::max(max_err, std::fabs(g.logits[i] - res.prompt_logits[i]));
  }
  EXPECT_LE(max_err, 1e-4f * max_ref) << "max abs error " << max_err << ", max |ref| " << max_ref;

  const auto& gen = g.greedy["generated"];
  ASSERT_EQ(gen.size(), res.sequences.size());
  for (std::size_t b = 0; b < gen.size(); ++b)
    EXPECT_EQ(res.sequences[b].generated_ids, gen[b].get<std::vector<std::int32_t>>()) << "sequence " << b;
}

TEST(Golden, ResidentNestedMatchesPyTorch) {
  ferry::EngineConfig cfg;
  cfg.progress = false;
  check_against_golden(cfg);
}

TEST(Golden, PaddedLayoutMatchesPyTorch) {
  ferry::EngineConfig cfg;
  cfg.progress = false;
  cfg.layout = ferry::Layout::Padded;
  check_against_golden(cfg);
}

TEST(Golden, StreamedUnderBudgetMatchesPyTorch) {
  ferry::EngineConfig cfg;
  cfg.progress = false;
  cfg.policy = ferry::Policy::UMPrefetch;
  cfg.budget = ferry::parse_budget("60%", "--budget");
  cfg.pack_dir = ferry::test::temp_dir("golden").string();
  check_against_golden(cfg);
}

}  // namespace
