// The LLaMA family end to end: a tiny GQA model (6 query heads, 2 KV heads, untied head) as a GGUF
// file and as a Hugging Face directory, against an independent numpy LLaMA (scripts/gguf/llama_ref.py,
// data made by scripts/gguf/make_gguf_tests.py): fp32 logits within 1e-4 relative, greedy identical;
// the GGUF and the directory give the same logits; every policy gives the resident logits bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "models/npy.h"
#include "runtime/engine.h"
#include "tests/support/test_util.h"

namespace {

const std::string kDir = std::string(FERRY_TEST_DATA) + "/gguf";

struct Outcome {
  std::vector<float> logits;
  std::vector<std::vector<std::int32_t>> generated;
};

Outcome run_model(const std::string& model, ferry::EngineConfig cfg, const nlohmann::json& golden) {
  cfg.progress = false;
  const ferry::ModelSpec spec = ferry::load_model_spec(model);
  ferry::Engine engine(spec, cfg);
  ferry::GenerateRequest req;
  req.prompts = golden["prompts"].get<std::vector<std::vector<std::int32_t>>>();
  req.prompt_logits = true;
  req.max_new_tokens = golden["n"].get<int>();
  const ferry::GenerateResult res = engine.generate(req);
  Outcome r;
  r.logits = res.prompt_logits;
  for (const auto& s : res.sequences) r.generated.push_back(s.generated_ids);
  return r;
}

nlohmann::json golden() { return nlohmann::json::parse(ferry::test::read_text(kDir + "/golden.json")); }

void expect_matches_reference(const Outcome& r, const nlohmann::json& g, const std::string& dir = kDir) {
  const ferry::NpyF32 ref = ferry::read_npy_f32(dir + "/logits.npy");
  ASSERT_EQ(r.logits.size(), ref.data.size());
  float max_ref = 0, max_err = 0;
  for (std::size_t i = 0; i < ref.data.size(); ++i) {
    max_ref = std::max(max_ref, std::fabs(ref.data[i]));
    max_err = std::max(max_err, std::fabs(ref.data[i] - r.logits[i]));
  }
  EXPECT_LE(max_err, 1e-4f * max_ref) << "max abs error " << max_err << ", max |ref| " << max_ref;
  EXPECT_EQ(r.generated, (g["generated"].get<std::vector<std::vector<std::int32_t>>>()));
}

TEST(Llama, GgufMatchesNumpyReference) {
  const nlohmann::json g = golden();
  expect_matches_reference(run_model(kDir + "/tiny.gguf", {}, g), g);
}

TEST(Llama, HuggingFaceDirectoryMatchesNumpyReference) {
  const nlohmann::json g = golden();
  expect_matches_reference(run_model(kDir + "/tiny-hf", {}, g), g);
}

TEST(Llama, GgufAndHuggingFaceDirectoryGiveTheSameLogits) {
  const nlohmann::json g = golden();
  const Outcome a = run_model(kDir + "/tiny.gguf", {}, g), b = run_model(kDir + "/tiny-hf", {}, g);
  EXPECT_EQ(a.logits, b.logits);
}

TEST(Llama, EveryPolicyDepthAndStreamCountIsBitIdenticalToResident) {
  const nlohmann::json g = golden();
  const Outcome resident = run_model(kDir + "/tiny.gguf", {}, g);
  for (ferry::Policy p : {ferry::Policy::UM, ferry::Policy::UMPrefetch, ferry::Policy::Stream, ferry::Policy::Auto})
    for (int depth : {1, 2})
      for (int streams : {1, 2}) {
        ferry::EngineConfig cfg;
        cfg.policy = p;
        cfg.prefetch_depth = depth;
        cfg.streams = streams;
        cfg.budget = ferry::parse_budget("4MiB", "--budget");  // static pack + one of the two layers
        cfg.pack_dir = ::testing::TempDir();
        const Outcome r = run_model(kDir + "/tiny.gguf", cfg, g);
        EXPECT_EQ(r.logits, resident.logits) << ferry::policy_name(p) << " depth " << depth << " streams " << streams;
        EXPECT_EQ(r.generated, resident.generated) << ferry::policy_name(p);
      }
}

// Hugging Face checkpoints written by transformers' own LLaMA, Mistral and Granite classes, with
// their float64 logits and greedy tokens (scripts/golden/make_llama_golden.py, tests/data/llama/):
// GQA ratios 1, 2, 3 and 5, odd head counts, tied and untied heads, attention biases, llama3 and
// linear rope scaling, an explicit head_dim, Granite's multipliers and a BF16 checkpoint.
class LlamaGolden : public ::testing::TestWithParam<const char*> {
 protected:
  std::string dir() const { return std::string(FERRY_TEST_DATA) + "/llama/" + GetParam(); }
  nlohmann::json golden() const { return nlohmann::json::parse(ferry::test::read_text(dir() + "/golden.json")); }
};

TEST_P(LlamaGolden, MatchesTransformers) {
  const nlohmann::json g = golden();
  expect_matches_reference(run_model(dir(), {}, g), g, dir());
}

TEST_P(LlamaGolden, StreamedUnderABudgetIsBitIdenticalToResident) {
  const nlohmann::json g = golden();
  const Outcome resident = run_model(dir(), {}, g);
  ferry::EngineConfig cfg;
  cfg.policy = ferry::Policy::Stream;
  cfg.prefetch_depth = 2;
  cfg.streams = 2;
  cfg.budget = ferry::parse_budget("4MiB", "--budget");
  cfg.pack_dir = ::testing::TempDir();
  const Outcome r = run_model(dir(), cfg, g);
  EXPECT_EQ(r.logits, resident.logits);
  EXPECT_EQ(r.generated, resident.generated);
}

INSTANTIATE_TEST_SUITE_P(Checkpoints, LlamaGolden,
                         ::testing::Values("llama-gqa5-untied", "llama3-gqa3-tied-bias", "mistral-gqa3", "granite-gqa2",
                                           "llama-bf16"),
                         [](const ::testing::TestParamInfo<const char*>& i) {
                           std::string n = i.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

}  // namespace

namespace {

// The real model (FERRY_SMOLLM2_GGUF, fetched by scripts/smollm2): ferry's greedy tokens for three
// chat prompts equal those of scripts/gguf/smollm2_reference.py (numpy, float64, on the weights the
// gguf package dequantizes), under a 50% budget.
TEST(Llama, SmolLM2GreedyTokensMatchTheNumpyReference) {
  const char* path = std::getenv("FERRY_SMOLLM2_GGUF");
  if (!path || !std::filesystem::exists(path)) GTEST_SKIP() << "FERRY_SMOLLM2_GGUF is not set: SmolLM2-135M not run";
  const nlohmann::json g = nlohmann::json::parse(ferry::test::read_text(kDir + "/smollm2-greedy.json"));
  for (const char* budget : {"100%", "50%"}) {
    ferry::EngineConfig cfg;
    cfg.budget = ferry::parse_budget(budget, "--budget");
    cfg.pack_dir = ::testing::TempDir();
    EXPECT_EQ(run_model(path, cfg, g).generated, (g["generated"].get<std::vector<std::vector<std::int32_t>>>()))
        << "budget " << budget;
  }
}

}  // namespace
