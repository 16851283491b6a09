// Export to a Hugging Face directory, then reopen it as a checkpoint.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "models/export.h"
#include "models/family.h"
#include "models/safetensors.h"
#include "test_util.h"

namespace ferry {
namespace {

using test::expect_bad_input;
using test::TempDir;

ModelSpec spec_for(DType dtype, bool tied) {
  ModelSpec s = parse_model_toml_string(R"([model]
name = "exp"
vocab_size = 97
context_length = 16
hidden_size = 32
num_layers = 3
num_heads = 4
ffn_size = 80
activation = "gelu"
[weights]
random = true
seed = 11
)",
                                        "exp", "");
  s.dtype = dtype;
  s.tied_embeddings = tied;
  return s;
}

void export_and_compare(DType dtype, bool tied) {
  SCOPED_TRACE(std::string(dtype_name(dtype)) + (tied ? " tied" : " untied"));
  TempDir d;
  const ModelSpec spec = spec_for(dtype, tied);
  auto random = random_source(spec);
  const std::string out = d.file("out/model");
  export_hf(spec, *random, out, false);

  // config.json round-trips through parse_hf_config.
  const ModelSpec back = load_model_spec(out);
  EXPECT_EQ(back.vocab_size, spec.vocab_size);
  EXPECT_EQ(back.context_length, spec.context_length);
  EXPECT_EQ(back.hidden_size, spec.hidden_size);
  EXPECT_EQ(back.num_layers, spec.num_layers);
  EXPECT_EQ(back.num_heads, spec.num_heads);
  EXPECT_EQ(back.ffn_size, spec.ffn_size);
  EXPECT_EQ(back.activation, spec.activation);
  EXPECT_EQ(back.tied_embeddings, spec.tied_embeddings);
  EXPECT_EQ(back.dtype, spec.dtype);
  EXPECT_FLOAT_EQ(back.norm_epsilon, spec.norm_epsilon);
  std::ifstream cfg(out + "/config.json");
  const nlohmann::json j = nlohmann::json::parse(cfg);
  EXPECT_EQ(j["architectures"][0], "GPT2LMHeadModel");
  EXPECT_EQ(j["activation_function"], "gelu");

  // Stored in spec.dtype, HF names without prefix, no lm_head when tied.
  const SafetensorsFile f = SafetensorsFile::open(out + "/model.safetensors");
  const auto infos = gpt2_tensors(spec);
  EXPECT_EQ(f.tensors().size(), infos.size());
  EXPECT_EQ(f.find("lm_head.weight") != nullptr, !tied);
  EXPECT_EQ(f.metadata().at("format"), "pt");

  // Reopened, every tensor has exactly the bytes of the random source, in every dtype.
  auto ckpt = open_checkpoint(out);
  for (const TensorInfo& t : infos) {
    const SafetensorsEntry* e = f.find(t.name);
    ASSERT_NE(e, nullptr) << t.name;
    EXPECT_EQ(e->dtype, safetensors_dtype_name(dtype));
    for (DType to : {dtype, DType::F32}) {
      const std::size_t bytes = static_cast<std::size_t>(t.shape.numel()) * dtype_size(to);
      std::vector<std::uint8_t> a(bytes), b(bytes);
      random->read(t.name, t.shape, to, a.data());
      ckpt->read(t.name, t.shape, to, b.data());
      ASSERT_EQ(a, b) << t.name << " as " << dtype_name(to);
    }
  }
}

TEST(Export, RoundTripF32Tied) { export_and_compare(DType::F32, true); }
TEST(Export, RoundTripF16Untied) { export_and_compare(DType::F16, false); }
TEST(Export, RoundTripBF16Tied) { export_and_compare(DType::BF16, true); }

TEST(Export, OverItsOwnCheckpoint) {
  // Re-exporting a checkpoint into its own directory: the mapped source stays valid.
  TempDir d;
  const ModelSpec spec = spec_for(DType::F16, true);
  auto random = random_source(spec);
  export_hf(spec, *random, d.path(), false);
  {
    auto ckpt = open_checkpoint(d.path());
    export_hf(spec, *ckpt, d.path(), false);
  }
  EXPECT_FALSE(std::filesystem::exists(d.file("model.safetensors.partial")));
  auto again = open_checkpoint(d.path());
  for (const TensorInfo& t : gpt2_tensors(spec)) {
    std::vector<std::uint16_t> a(static_cast<std::size_t>(t.shape.numel())), b(a.size());
    random->read(t.name, t.shape, DType::F16, a.data());
    again->read(t.name, t.shape, DType::F16, b.data());
    ASSERT_EQ(a, b) << t.name;
  }
}

TEST(Export, ConfigJson) {
  const nlohmann::json j = nlohmann::json::parse(hf_config_json(load_model_spec("gpt2-medium")));
  EXPECT_EQ(j["model_type"], "gpt2");
  EXPECT_EQ(j["n_embd"], 1024);
  EXPECT_EQ(j["n_layer"], 24);
  EXPECT_EQ(j["n_head"], 16);
  EXPECT_EQ(j["n_positions"], 1024);
  EXPECT_EQ(j["n_ctx"], 1024);
  EXPECT_EQ(j["n_inner"], 4096);
  EXPECT_EQ(j["vocab_size"], 50257);
  EXPECT_EQ(j["activation_function"], "gelu_new");
  EXPECT_EQ(j["tie_word_embeddings"], true);
  EXPECT_EQ(j["torch_dtype"], "float32");
  EXPECT_EQ(nlohmann::json::parse(hf_config_json(load_model_spec("gpt3-13b")))["torch_dtype"], "float16");
}

TEST(Export, UnwritableDirectoryIsBadInput) {
  TempDir d;
  const std::string blocker = d.write("file", "x");
  const ModelSpec spec = spec_for(DType::F32, true);
  auto random = random_source(spec);
  expect_bad_input([&] { export_hf(spec, *random, blocker + "/out", false); }, {blocker + "/out"});
}

}  // namespace
}  // namespace ferry

namespace ferry {
namespace {

// The LLaMA family (the golden checkpoints of tests/data/llama and the GQA GGUF): exported, the
// directory reads back as the same spec, and every tensor has the same values.
TEST(Export, LlamaFamilyRoundTrips) {
  const std::string data = FERRY_TEST_DATA;
  for (const std::string& model : {data + "/llama/llama-gqa5-untied", data + "/llama/llama3-gqa3-tied-bias",
                                  data + "/llama/mistral-gqa3", data + "/llama/granite-gqa2",
                                  data + "/llama/llama-bf16", data + "/gguf/tiny.gguf"}) {
    SCOPED_TRACE(model);
    TempDir d;
    const ModelSpec spec = load_model_spec(model);
    auto src = make_weight_source(spec);
    export_hf(spec, *src, d.path(), false);
    const ModelSpec back = load_model_spec(d.path());
    EXPECT_EQ(back.family, "llama");
    EXPECT_EQ(back.kv_heads(), spec.kv_heads());
    EXPECT_EQ(back.head_dim(), spec.head_dim());
    EXPECT_EQ(back.ffn_size, spec.ffn_size);
    EXPECT_EQ(back.tied_embeddings, spec.tied_embeddings);
    EXPECT_EQ(back.attention_bias, spec.attention_bias);
    EXPECT_EQ(back.dtype, spec.dtype);
    EXPECT_EQ(back.rope_theta, spec.rope_theta);
    EXPECT_EQ(back.rope_scaling, spec.rope_scaling);
    EXPECT_EQ(back.rope_factor, spec.rope_factor);
    EXPECT_EQ(back.rope_original_context, spec.rope_original_context);
    EXPECT_EQ(back.norm_epsilon, spec.norm_epsilon);
    EXPECT_EQ(back.embedding_multiplier, spec.embedding_multiplier);
    EXPECT_EQ(back.residual_multiplier, spec.residual_multiplier);
    EXPECT_EQ(back.attention_multiplier, spec.attention_multiplier);
    EXPECT_EQ(back.logits_scaling, spec.logits_scaling);
    EXPECT_EQ(back.parameter_count(), spec.parameter_count());
    auto again = open_checkpoint(d.path());
    for (const TensorInfo& t : model_family(spec).tensors(spec)) {
      std::vector<float> a(static_cast<std::size_t>(t.shape.numel())), b(a.size());
      src->read(t.name, t.shape, DType::F32, a.data());
      again->read(t.name, t.shape, DType::F32, b.data());
      ASSERT_EQ(a, b) << t.name;
    }
  }
}

}  // namespace
}  // namespace ferry
