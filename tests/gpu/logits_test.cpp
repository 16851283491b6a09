// Whole-model logits on the GPU against the CPU backend and against the golden data of an
// independent PyTorch implementation (tests/data/golden), and the LLaMA family's tiny GGUF against
// its numpy reference (tests/data/gguf). Skips visibly without a GPU.
//
// Bounds, relative to the largest reference logit, element by element:
//   f32 weights: 1e-3. The CUDA kernels accumulate in f32 and cuBLASLt runs with
//                CUBLAS_COMPUTE_32F (no TF32), so only the summation order differs from the CPU.
//   f16 / bf16 weights: 1e-2 / 3e-2. The weights are the same values on both backends (random
//                weights are rounded to the storage dtype first, docs/model-format.md), but the GPU
//                also rounds the activations that enter each matrix product to f16 (11-bit
//                significand, relative error 2^-11 ~ 4.9e-4) or bf16 (8 bits, 2^-8 ~ 3.9e-3),
//                and the errors of a few layers add up.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "models/npy.h"
#include "runtime/prompts.h"
#include "tests/gpu/gpu_util.h"

namespace ferry {
namespace {

using gputest::compare;
using gputest::cuda_config;
using gputest::run;
using gputest::tiny_spec;

void expect_gpu_matches_cpu(const std::string& dtype, float bound) {
  const ModelSpec spec = tiny_spec(4, 23, dtype);
  EngineConfig cpu;
  cpu.progress = false;
  const gputest::Outcome ref = run(spec, cpu);
  const gputest::Outcome gpu = run(spec, cuda_config(Policy::Resident));
  ASSERT_EQ(gpu.logits.size(), ref.logits.size());
  ASSERT_EQ(gpu.logits.size(), std::size_t{9} * 101);  // 9 prompt tokens x vocab 101
  const gputest::ErrStats e = compare(gpu.logits, ref.logits);
  EXPECT_GT(e.max_ref, 0.f);
  EXPECT_LE(e.max_err, bound * e.max_ref) << dtype << ": max abs error " << e.max_err << ", max |cpu logit| " << e.max_ref;
  for (const auto& t : gpu.tokens) EXPECT_EQ(t.size(), 4u);
}

TEST(GpuLogits, F32MatchesCpu) {
  FERRY_REQUIRE_GPU();
  expect_gpu_matches_cpu("f32", 1e-3f);
}

TEST(GpuLogits, F16MatchesCpu) {
  FERRY_REQUIRE_GPU();
  expect_gpu_matches_cpu("f16", 1e-2f);
}

TEST(GpuLogits, Bf16MatchesCpu) {
  FERRY_REQUIRE_GPU();
  expect_gpu_matches_cpu("bf16", 3e-2f);
}

const std::string kGolden = std::string(FERRY_TEST_DATA) + "/golden";

// logits within 1e-3 of the largest reference logit (f32); greedy tokens identical.
void check_golden(EngineConfig cfg) {
  const std::vector<std::vector<std::int32_t>> prompts = read_prompt_ids_file(kGolden + "/prompts.txt");
  const NpyF32 ref = read_npy_f32(kGolden + "/logits.npy");
  const nlohmann::json greedy = nlohmann::json::parse(test::read_text(kGolden + "/greedy.json"));
  ASSERT_EQ(greedy["version"], "golden-v1");
  const ModelSpec spec = load_model_spec(kGolden);
  ASSERT_EQ(spec.dtype, DType::F32);
  cfg.progress = false;
  Engine engine(spec, cfg);
  GenerateRequest req;
  req.prompts = prompts;
  req.prompt_logits = true;
  req.max_new_tokens = greedy["n"].get<int>();
  const GenerateResult res = engine.generate(req);
  ASSERT_EQ(static_cast<std::int64_t>(res.prompt_logits.size()), ref.rows * ref.cols);
  const gputest::ErrStats e = compare(res.prompt_logits, ref.data);
  EXPECT_LE(e.max_err, 1e-3f * e.max_ref) << "max abs error " << e.max_err << ", max |ref| " << e.max_ref;
  const auto& gen = greedy["generated"];
  ASSERT_EQ(gen.size(), res.sequences.size());
  for (std::size_t b = 0; b < gen.size(); ++b)
    EXPECT_EQ(res.sequences[b].generated_ids, gen[b].get<std::vector<std::int32_t>>()) << "sequence " << b;
}

TEST(GpuGolden, ResidentMatchesPyTorch) {
  FERRY_REQUIRE_GPU();
  check_golden(cuda_config(Policy::Resident));
}

TEST(GpuGolden, PaddedLayoutMatchesPyTorch) {
  FERRY_REQUIRE_GPU();
  EngineConfig cfg = cuda_config(Policy::Resident);
  cfg.layout = Layout::Padded;
  check_golden(cfg);
}

TEST(GpuGolden, EveryPolicyUnderBudgetMatchesPyTorch) {
  FERRY_REQUIRE_GPU();
  for (Policy p : {Policy::UM, Policy::UMPrefetch, Policy::Stream}) {
    SCOPED_TRACE(policy_name(p));
    EngineConfig cfg = cuda_config(p);
    cfg.budget = parse_budget("60%", "--budget");
    check_golden(cfg);
  }
}

// The LLaMA family on the GPU: tests/data/gguf/tiny.gguf (6 query heads over 2 KV heads, untied head)
// runs embedding_lookup, add_rmsnorm, rope, kv_append, grouped-query prefill and decode attention and
// swiglu on CUDA; f32 logits within 1e-3 of the largest logit of the numpy reference
// (scripts/gguf/llama_ref.py) and greedy tokens identical, as tests/runtime/llama_test.cpp on the CPU.
void check_llama_golden(EngineConfig cfg) {
  const std::string dir = std::string(FERRY_TEST_DATA) + "/gguf";
  const nlohmann::json g = nlohmann::json::parse(test::read_text(dir + "/golden.json"));
  const NpyF32 ref = read_npy_f32(dir + "/logits.npy");
  const ModelSpec spec = load_model_spec(dir + "/tiny.gguf");
  ASSERT_EQ(spec.dtype, DType::F32);
  ASSERT_LT(spec.kv_heads(), spec.num_heads) << "the tiny model is meant to be grouped-query";
  cfg.progress = false;
  Engine engine(spec, cfg);
  GenerateRequest req;
  req.prompts = g["prompts"].get<std::vector<std::vector<std::int32_t>>>();
  req.prompt_logits = true;
  req.max_new_tokens = g["n"].get<int>();
  const GenerateResult res = engine.generate(req);
  ASSERT_EQ(static_cast<std::int64_t>(res.prompt_logits.size()), ref.rows * ref.cols);
  const gputest::ErrStats e = compare(res.prompt_logits, ref.data);
  EXPECT_LE(e.max_err, 1e-3f * e.max_ref) << "max abs error " << e.max_err << ", max |ref| " << e.max_ref;
  const auto& gen = g["generated"];
  ASSERT_EQ(gen.size(), res.sequences.size());
  for (std::size_t b = 0; b < gen.size(); ++b)
    EXPECT_EQ(res.sequences[b].generated_ids, gen[b].get<std::vector<std::int32_t>>()) << "sequence " << b;
}

TEST(GpuLlama, ResidentMatchesNumpyReference) {
  FERRY_REQUIRE_GPU();
  check_llama_golden(cuda_config(Policy::Resident));
}

TEST(GpuLlama, PaddedLayoutAndStreamingMatchNumpyReference) {
  FERRY_REQUIRE_GPU();
  EngineConfig padded = cuda_config(Policy::Resident);
  padded.layout = Layout::Padded;
  check_llama_golden(padded);
  EngineConfig streamed = cuda_config(Policy::Stream);
  streamed.budget = parse_budget("60%", "--budget");
  check_llama_golden(streamed);
}

}  // namespace
}  // namespace ferry
