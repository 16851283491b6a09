// TOML model descriptions and presets.
#include <gtest/gtest.h>

#include <filesystem>

#include "models/model_spec.h"
#include "test_util.h"

namespace ferry {
namespace {

using test::expect_bad_input;
using test::TempDir;

const char* kValid = R"([model]
name = "tiny"
vocab_size = 101
context_length = 64
hidden_size = 96
num_layers = 3
num_heads = 3

[weights]
random = true
seed = 7
)";

TEST(Presets, NamesAreTheShippedFiles) {
  const std::vector<std::string> expected = {"gpt2", "gpt2-large", "gpt2-medium", "gpt2-xl", "gpt3-13b", "gpt3-6.7b"};
  EXPECT_EQ(preset_names(), expected);
}

TEST(Presets, EachParsesWithItsSizes) {
  struct Want {
    const char* name;
    int layers, hidden, heads, ctx;
    DType dtype;
  };
  const Want wants[] = {
      {"gpt2", 12, 768, 12, 1024, DType::F32},       {"gpt2-medium", 24, 1024, 16, 1024, DType::F32},
      {"gpt2-large", 36, 1280, 20, 1024, DType::F32}, {"gpt2-xl", 48, 1600, 25, 1024, DType::F32},
      {"gpt3-6.7b", 32, 4096, 32, 2048, DType::F16},  {"gpt3-13b", 40, 5120, 40, 2048, DType::F16},
  };
  for (const Want& w : wants) {
    SCOPED_TRACE(w.name);
    const ModelSpec s = load_model_spec(w.name);
    EXPECT_EQ(s.name, w.name);
    EXPECT_EQ(s.family, "gpt2");
    EXPECT_EQ(s.num_layers, w.layers);
    EXPECT_EQ(s.hidden_size, w.hidden);
    EXPECT_EQ(s.num_heads, w.heads);
    EXPECT_EQ(s.context_length, w.ctx);
    EXPECT_EQ(s.vocab_size, 50257);
    EXPECT_EQ(s.ffn_size, 4 * w.hidden);
    EXPECT_EQ(s.dtype, w.dtype);
    EXPECT_EQ(s.activation, ops::Activation::GeluTanh);
    EXPECT_TRUE(s.tied_embeddings);
    EXPECT_FLOAT_EQ(s.norm_epsilon, 1e-5f);
    EXPECT_TRUE(s.weights.random);
    EXPECT_EQ(s.weights.seed, 0u);
    EXPECT_EQ(s.source, std::string("preset ") + w.name);
  }
}

TEST(Presets, ParameterCounts) {
  EXPECT_EQ(load_model_spec("gpt2").parameter_count(), 124439808u);
  EXPECT_EQ(load_model_spec("gpt2-xl").parameter_count(), 1557611200u);
  ModelSpec untied = load_model_spec("gpt2");
  untied.tied_embeddings = false;
  EXPECT_EQ(untied.parameter_count(), 124439808u + 50257u * 768u);
}

TEST(Presets, UnknownNameListsThePresets) {
  expect_bad_input([] { load_model_spec("gpt5"); }, {"gpt5", "gpt2-xl", "gpt3-13b"});
  expect_bad_input([] { preset_toml("nope"); }, {"nope", "gpt2-medium"});
  EXPECT_NE(preset_toml("gpt2").find("[model]"), std::string::npos);
}

TEST(Toml, ParsesAFileWithDefaults) {
  TempDir d;
  const std::string path = d.write("tiny.toml", kValid);
  const ModelSpec s = load_model_spec(path);
  EXPECT_EQ(s.name, "tiny");
  EXPECT_EQ(s.vocab_size, 101);
  EXPECT_EQ(s.context_length, 64);
  EXPECT_EQ(s.hidden_size, 96);
  EXPECT_EQ(s.num_layers, 3);
  EXPECT_EQ(s.num_heads, 3);
  EXPECT_EQ(s.head_dim(), 32);
  EXPECT_EQ(s.ffn_size, 384);
  EXPECT_EQ(s.norm, "layernorm");
  EXPECT_TRUE(s.tied_embeddings);
  EXPECT_EQ(s.dtype, DType::F32);
  EXPECT_TRUE(s.weights.random);
  EXPECT_EQ(s.weights.seed, 7u);
  EXPECT_EQ(s.source, "file " + path);
}

TEST(Toml, AllKeysAndRelativeWeightsPath) {
  TempDir d;
  const std::string path = d.write("sub/m.toml", R"([model]
family = "gpt2"
vocab_size = 10
context_length = 8
hidden_size = 16
num_layers = 2
num_heads = 4
ffn_size = 24
norm = "layernorm"
norm_epsilon = 1e-6
activation = "gelu"
tied_embeddings = false
dtype = "bf16"

[weights]
path = "ckpt/model.safetensors"
)");
  const ModelSpec s = parse_model_toml_file(path);
  EXPECT_EQ(s.name, "m");  // defaults to the file's stem
  EXPECT_EQ(s.ffn_size, 24);
  EXPECT_FLOAT_EQ(s.norm_epsilon, 1e-6f);
  EXPECT_EQ(s.activation, ops::Activation::GeluErf);
  EXPECT_FALSE(s.tied_embeddings);
  EXPECT_EQ(s.dtype, DType::BF16);
  EXPECT_FALSE(s.weights.random);
  EXPECT_EQ(std::filesystem::path(s.weights.path), std::filesystem::path(d.file("sub/ckpt/model.safetensors")));
}

TEST(Toml, NoWeightsTableMeansRandomSeedZero) {
  const ModelSpec s = parse_model_toml_string(R"([model]
vocab_size = 10
context_length = 8
hidden_size = 16
num_layers = 1
num_heads = 2
)",
                                              "inline", "");
  EXPECT_TRUE(s.weights.random);
  EXPECT_EQ(s.weights.seed, 0u);
}

// Replaces the first occurrence of `from` in kValid.
std::string edited(const std::string& from, const std::string& to) {
  std::string s = kValid;
  const std::size_t i = s.find(from);
  EXPECT_NE(i, std::string::npos) << from;
  return s.replace(i, from.size(), to);
}

TEST(Toml, MalformedNamesFileAndLine) {
  TempDir d;
  const std::string path = d.write("bad.toml", edited("hidden_size = 96", "hidden_size = = 96"));
  expect_bad_input([&] { load_model_spec(path); }, {path + ":5:", "invalid TOML"});
}

TEST(Toml, UnknownKeyNamesFileAndKey) {
  TempDir d;
  const std::string p1 = d.write("a.toml", edited("num_heads = 3", "num_heads = 3\nnum_experts = 8"));
  expect_bad_input([&] { load_model_spec(p1); }, {p1, "model.num_experts"});
  const std::string p2 = d.write("b.toml", edited("seed = 7", "seed = 7\nshuffle = true"));
  expect_bad_input([&] { load_model_spec(p2); }, {p2, "weights.shuffle"});
  const std::string p3 = d.write("c.toml", std::string(kValid) + "[tokenizer]\npath = \"x\"\n");
  expect_bad_input([&] { load_model_spec(p3); }, {p3, "tokenizer"});
}

TEST(Toml, MissingKeyNamesIt) {
  TempDir d;
  const std::string p = d.write("m.toml", edited("hidden_size = 96\n", ""));
  expect_bad_input([&] { load_model_spec(p); }, {p, "model.hidden_size", "missing"});
  expect_bad_input([] { parse_model_toml_string("[weights]\nrandom = true\n", "x.toml", ""); }, {"x.toml", "[model]"});
}

TEST(Toml, WrongTypesAndValues) {
  TempDir d;
  auto check = [&](const std::string& text, const std::string& key) {
    const std::string p = d.write("case.toml", text);
    SCOPED_TRACE(text);
    expect_bad_input([&] { load_model_spec(p); }, {p, key});
  };
  check(edited("num_heads = 3", "num_heads = 3\ndtype = \"f8\""), "model.dtype");
  check(edited("num_heads = 3", "num_heads = 5"), "model.num_heads");  // 96 % 5 != 0
  check(edited("hidden_size = 96", "hidden_size = \"96\""), "model.hidden_size");
  check(edited("num_layers = 3", "num_layers = 0"), "model.num_layers");
  check(edited("vocab_size = 101", "vocab_size = -1"), "model.vocab_size");
  check(edited("context_length = 64", "context_length = 99999999999"), "model.context_length");
  check(edited("num_heads = 3", "num_heads = 3\nactivation = \"relu\""), "model.activation");
  check(edited("num_heads = 3", "num_heads = 3\nnorm = \"rmsnorm\""), "model.norm");
  check(edited("num_heads = 3", "num_heads = 3\nfamily = \"llama\""), "model.family");
  check(edited("num_heads = 3", "num_heads = 3\nnorm_epsilon = -1.0"), "model.norm_epsilon");
  check(edited("num_heads = 3", "num_heads = 3\ntied_embeddings = 1"), "model.tied_embeddings");
  check(edited("seed = 7", "seed = -7"), "weights.seed");
  check(edited("random = true", "random = true\npath = \"w.safetensors\""), "weights.path");
  check(edited("random = true\nseed = 7", "random = false"), "weights.random");
  check("model = 3\n", "model: expected a table");
}

TEST(Toml, ValidateChecksRanges) {
  ModelSpec s = load_model_spec("gpt2");
  EXPECT_NO_THROW(validate(s, "here"));
  s.num_heads = 7;
  expect_bad_input([&] { validate(s, "here"); }, {"here", "model.num_heads"});
  s = load_model_spec("gpt2");
  s.ffn_size = 0;
  expect_bad_input([&] { validate(s, "here"); }, {"here", "model.ffn_size"});
  s = load_model_spec("gpt2");
  s.weights.path = "x.safetensors";  // and random = true
  expect_bad_input([&] { validate(s, "here"); }, {"here", "weights.path"});
}

TEST(LoadModelSpec, UnknownPathIsBadInput) {
  expect_bad_input([] { load_model_spec("/no/such/model.toml"); }, {"/no/such/model.toml", "gpt2"});
}

}  // namespace
}  // namespace ferry
