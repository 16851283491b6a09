// TOML model descriptions and presets.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

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
  const std::vector<std::string> expected = {"bert-base",   "bert-large",  "gpt2",        "gpt2-large",  "gpt2-medium", "gpt2-xl",     "gpt3-13b",
                                             "gpt3-6.7b",   "granite-8b",  "llama-2-13b", "llama-2-70b", "llama-2-7b",
                                             "llama-3-70b", "llama-3-8b",  "mistral-7b",  "smollm2-135m"};
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
  check(edited("num_heads = 3", "num_heads = 3\nfamily = \"falcon\""), "model.family");
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

// Issue 9: a hidden size of 800,000,000 made 3 * hidden and the parameter count overflow, and
// `inspect` printed a model of 9.3 million TiB. Every dimension has a limit, named when exceeded.
TEST(Toml, DimensionsAboveTheirLimitsAreRefused) {
  TempDir d;
  auto check = [&](const std::string& from, const std::string& to, const std::string& key, int limit) {
    const std::string p = d.write("big.toml", edited(from, to));
    SCOPED_TRACE(to);
    expect_bad_input([&] { load_model_spec(p); }, {p, key, "above the limit " + std::to_string(limit)});
  };
  check("hidden_size = 96", "hidden_size = 800000000", "model.hidden_size", kMaxHiddenSize);
  check("vocab_size = 101", "vocab_size = 16777217", "model.vocab_size", kMaxVocabSize);
  check("context_length = 64", "context_length = 4194305", "model.context_length", kMaxContextLength);
  check("num_layers = 3", "num_layers = 4097", "model.num_layers", kMaxNumLayers);
  check("num_heads = 3", "num_heads = 3\nffn_size = 1048577", "model.ffn_size", kMaxFfnSize);
  // Without ffn_size the default 4 * hidden_size overflowed an int for the most negative hidden size.
  const std::string neg = d.write("neg.toml", edited("hidden_size = 96", "hidden_size = -2147483648"));
  expect_bad_input([&] { load_model_spec(neg); }, {neg, "model.hidden_size", "positive"});
  // At the limits everything still fits: the largest model ferry accepts is counted exactly.
  ModelSpec s = load_model_spec("gpt2");
  s.vocab_size = kMaxVocabSize;
  s.context_length = kMaxContextLength;
  s.hidden_size = kMaxHiddenSize;
  s.num_layers = kMaxNumLayers;
  s.num_heads = 1;
  s.ffn_size = kMaxFfnSize;
  s.tied_embeddings = false;
  EXPECT_NO_THROW(validate(s, "here"));
  const std::uint64_t V = kMaxVocabSize, C = kMaxContextLength, H = kMaxHiddenSize, L = kMaxNumLayers,
                      F = kMaxFfnSize;
  EXPECT_EQ(s.parameter_count(), 2 * V * H + C * H + 2 * H + L * (4 * H + 4 * H * H + 4 * H + 2 * H * F + F + H));
  EXPECT_LT(s.parameter_count(), std::uint64_t{1} << 52);
}

// parameter_count() on a spec that skipped validate() refuses to wrap.
TEST(Toml, ParameterCountRefusesToWrap) {
  ModelSpec s = load_model_spec("gpt2");
  s.hidden_size = 800000000;
  s.num_layers = 2000000000;
  expect_bad_input([&] { s.parameter_count(); }, {"gpt2", "parameter count", "hidden_size 800000000"});
  s = load_model_spec("gpt2");
  s.vocab_size = -5;
  expect_bad_input([&] { s.parameter_count(); }, {"vocab_size -5"});
}

// Issue 9: TOML++ 3.3 reached its assertions on "[\0" and "[." (Release builds of the library
// make them assumptions: undefined behaviour) and a __builtin_unreachable on "a=1\u00e9" written
// raw. Each is a one-line BadInput naming the file now.
TEST(Toml, InputsThatReachedTomlPlusPlusAssertionsAreBadInput) {
  TempDir d;
  auto check = [&](const std::string& text, std::initializer_list<std::string> parts) {
    const std::string p = d.write("t.toml", text);
    SCOPED_TRACE(text);
    std::vector<std::string> all = {p};
    all.insert(all.end(), parts.begin(), parts.end());
    try {
      load_model_spec(p);
      ADD_FAILURE() << "expected BadInput";
    } catch (const BadInput& e) {
      for (const std::string& part : all) EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  check(std::string("[\0", 2), {":1:2:", "byte 0x00", "control character"});
  check("a=1\xc3\xa9", {":1:4:", "byte 0xc3", "not ASCII", "\\u"});
  check("[model]\n# caf\xc3\xa9\n", {":2:6:", "not ASCII"});
  check("[.ode9G:# \n PcT", {"invalid TOML"});  // found by fuzz_model_toml: ASCII only
  check("[.", {"invalid TOML"});
  check("[model]\r\nname = \"x\"\rvocab_size = 1\n", {":2:11:", "control character"});  // a lone CR
}

TEST(Toml, NonAsciiAsEscapesAndCrlfAndByteOrderMarkAreFine) {
  TempDir d;
  std::string text = "\xef\xbb\xbf";  // a UTF-8 byte order mark, then CRLF line ends
  for (const char c : edited("name = \"tiny\"", "name = \"mod\\u00e8le\"")) {
    if (c == '\n') text += '\r';
    text += c;
  }
  const ModelSpec s = load_model_spec(d.write("m.toml", text));
  EXPECT_EQ(s.name, "mod\xc3\xa8le");
  EXPECT_EQ(s.hidden_size, 96);
}

TEST(Toml, FloatsBeyondFloatRangeAreRefused) {
  TempDir d;
  const std::string p = d.write("e.toml", edited("num_heads = 3", "num_heads = 3\nnorm_epsilon = 1e300"));
  expect_bad_input([&] { load_model_spec(p); }, {p, "model.norm_epsilon", "out of range"});
}

TEST(LoadModelSpec, UnknownPathIsBadInput) {
  expect_bad_input([] { load_model_spec("/no/such/model.toml"); }, {"/no/such/model.toml", "gpt2"});
}

}  // namespace
}  // namespace ferry
