// Hugging Face config.json -> ModelSpec.
#include <gtest/gtest.h>

#include "models/model_spec.h"
#include "test_util.h"

namespace ferry {
namespace {

using test::expect_bad_input;
using test::TempDir;

// The config.json of the Hugging Face hub's gpt2, abridged.
const char* kGpt2Config = R"({
  "activation_function": "gelu_new",
  "architectures": ["GPT2LMHeadModel"],
  "attn_pdrop": 0.1,
  "bos_token_id": 50256,
  "embd_pdrop": 0.1,
  "eos_token_id": 50256,
  "initializer_range": 0.02,
  "layer_norm_epsilon": 1e-05,
  "model_type": "gpt2",
  "n_ctx": 1024,
  "n_embd": 768,
  "n_head": 12,
  "n_inner": null,
  "n_layer": 12,
  "n_positions": 1024,
  "vocab_size": 50257
})";

std::string replaced(std::string s, const std::string& from, const std::string& to) {
  const std::size_t i = s.find(from);
  EXPECT_NE(i, std::string::npos) << from;
  return s.replace(i, from.size(), to);
}

TEST(HfConfig, ParsesGpt2) {
  TempDir d;
  d.write("gpt2/config.json", kGpt2Config);
  const std::string dir = d.file("gpt2");
  const ModelSpec s = parse_hf_config(dir);
  EXPECT_EQ(s.name, "gpt2");
  EXPECT_EQ(s.family, "gpt2");
  EXPECT_EQ(s.hidden_size, 768);
  EXPECT_EQ(s.num_layers, 12);
  EXPECT_EQ(s.num_heads, 12);
  EXPECT_EQ(s.context_length, 1024);
  EXPECT_EQ(s.vocab_size, 50257);
  EXPECT_EQ(s.ffn_size, 3072);  // n_inner null -> 4 * n_embd
  EXPECT_FLOAT_EQ(s.norm_epsilon, 1e-5f);
  EXPECT_EQ(s.activation, ops::Activation::GeluTanh);
  EXPECT_TRUE(s.tied_embeddings);
  EXPECT_EQ(s.dtype, DType::F32);
  EXPECT_FALSE(s.weights.random);
  EXPECT_EQ(s.weights.path, dir);
  EXPECT_EQ(s.source, "hf-dir " + dir);
  EXPECT_EQ(s.parameter_count(), 124439808u);

  // load_model_spec dispatches a directory to parse_hf_config
  const ModelSpec t = load_model_spec(dir);
  EXPECT_EQ(t.source, s.source);
  EXPECT_EQ(t.hidden_size, 768);
}

TEST(HfConfig, OptionalKeys) {
  TempDir d;
  std::string c = replaced(kGpt2Config, "\"n_positions\": 1024,", "");  // falls back to n_ctx
  c = replaced(c, "\"n_ctx\": 1024", "\"n_ctx\": 512");
  c = replaced(c, "\"n_inner\": null", "\"n_inner\": 1000");
  c = replaced(c, "\"gelu_new\"", "\"gelu\"");
  c = replaced(c, "\"model_type\": \"gpt2\",",
               "\"model_type\": \"gpt2\", \"tie_word_embeddings\": false, \"torch_dtype\": \"float16\",");
  d.write("config.json", c);
  const ModelSpec s = parse_hf_config(d.path());
  EXPECT_EQ(s.context_length, 512);
  EXPECT_EQ(s.ffn_size, 1000);
  EXPECT_EQ(s.activation, ops::Activation::GeluErf);
  EXPECT_FALSE(s.tied_embeddings);
  EXPECT_EQ(s.dtype, DType::F16);
  EXPECT_EQ(s.parameter_count(), 512u * 768u + 50257u * 768u * 2u + 2u * 768u +
                                     12u * (4u * 768u + 4u * 768u * 768u + 4u * 768u + 2u * 768u * 1000u + 1000u + 768u));
}

TEST(HfConfig, WrongModelTypeIsRejected) {
  TempDir d;
  const std::string file = d.write("config.json", replaced(kGpt2Config, "\"model_type\": \"gpt2\"", "\"model_type\": \"falcon\""));
  expect_bad_input([&] { parse_hf_config(d.path()); }, {file, "falcon", "supported: gpt2, llama, mistral, granite"});
}

TEST(HfConfig, BadFiles) {
  TempDir d;
  expect_bad_input([&] { parse_hf_config(d.path()); }, {d.path(), "config.json"});
  const std::string file = d.write("config.json", "{\"model_type\": ");
  expect_bad_input([&] { parse_hf_config(d.path()); }, {file, "invalid JSON"});
  d.write("config.json", replaced(kGpt2Config, "\"n_embd\": 768,", ""));
  expect_bad_input([&] { parse_hf_config(d.path()); }, {file, "n_embd"});
  d.write("config.json", replaced(kGpt2Config, "\"n_head\": 12", "\"n_head\": \"12\""));
  expect_bad_input([&] { parse_hf_config(d.path()); }, {file, "n_head"});
  d.write("config.json", replaced(kGpt2Config, "\"n_head\": 12", "\"n_head\": 7"));
  expect_bad_input([&] { parse_hf_config(d.path()); }, {file, "num_heads"});
  d.write("config.json", replaced(kGpt2Config, "\"gelu_new\"", "\"relu\""));
  expect_bad_input([&] { parse_hf_config(d.path()); }, {file, "activation_function", "relu"});
  d.write("config.json", replaced(kGpt2Config, "\"model_type\": \"gpt2\",", "\"model_type\": \"gpt2\", \"torch_dtype\": \"int8\","));
  expect_bad_input([&] { parse_hf_config(d.path()); }, {file, "torch_dtype"});
}

// Issue 9: n_embd 800,000,000 overflowed 3 * hidden and the parameter count. Each dimension is
// refused above its limit with the config.json key named, before anything is computed from it.
TEST(HfConfig, DimensionsAboveTheirLimitsNameTheKey) {
  TempDir d;
  auto check = [&](const std::string& from, const std::string& to, const std::string& key, int limit) {
    const std::string file = d.write("config.json", replaced(kGpt2Config, from, to));
    SCOPED_TRACE(to);
    expect_bad_input([&] { parse_hf_config(d.path()); }, {file, key, "above the limit " + std::to_string(limit)});
  };
  check("\"n_embd\": 768", "\"n_embd\": 800000000", "n_embd", kMaxHiddenSize);
  check("\"n_embd\": 768", "\"n_embd\": 18446744073709551615", "n_embd", kMaxHiddenSize);
  check("\"n_layer\": 12", "\"n_layer\": 5000", "n_layer", kMaxNumLayers);
  check("\"vocab_size\": 50257", "\"vocab_size\": 99999999", "vocab_size", kMaxVocabSize);
  check("\"n_positions\": 1024", "\"n_positions\": 4194305", "n_positions", kMaxContextLength);
  check("\"n_inner\": null", "\"n_inner\": 2000000", "n_inner", kMaxFfnSize);
  check("\"n_head\": 12", "\"n_head\": 200000", "n_head", kMaxHiddenSize);
  const std::string file = d.write("config.json", replaced(kGpt2Config, "\"n_layer\": 12", "\"n_layer\": -3"));
  expect_bad_input([&] { parse_hf_config(d.path()); }, {file, "n_layer", "positive"});
}

// A double beyond float's range has no float value: the conversion was undefined behaviour.
TEST(HfConfig, EpsilonBeyondFloatRangeIsRefused) {
  TempDir d;
  const std::string file = d.write("config.json", replaced(kGpt2Config, "1e-05", "1e300"));
  expect_bad_input([&] { parse_hf_config(d.path()); }, {file, "layer_norm_epsilon", "out of range"});
}

}  // namespace
}  // namespace ferry

namespace ferry {
namespace {

// A Mistral-7B-shaped config.json (abridged), for the LLaMA family's keys.
const char* kMistralConfig = R"({
  "architectures": ["MistralForCausalLM"],
  "hidden_act": "silu",
  "hidden_size": 4096,
  "intermediate_size": 14336,
  "max_position_embeddings": 32768,
  "model_type": "mistral",
  "num_attention_heads": 32,
  "num_hidden_layers": 32,
  "num_key_value_heads": 8,
  "rms_norm_eps": 1e-05,
  "rope_theta": 1000000.0,
  "sliding_window": null,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "vocab_size": 32768
})";

TEST(HfConfig, MistralSlidingWindowAndTheLlamaKeysThatAreErrors) {
  TempDir d;
  d.write("config.json", kMistralConfig);
  const ModelSpec s = parse_hf_config(d.path());
  EXPECT_EQ(s.family, "llama");
  EXPECT_EQ(s.kv_heads(), 8);
  EXPECT_EQ(s.head_dim(), 128);
  EXPECT_EQ(s.dtype, DType::BF16);
  // A window as long as the context hides no key: plain causal attention.
  d.write("config.json", replaced(kMistralConfig, "\"sliding_window\": null", "\"sliding_window\": 32768"));
  EXPECT_EQ(parse_hf_config(d.path()).context_length, 32768);
  struct Case {
    const char *from, *to, *key, *why;
  };
  const Case cases[] = {
      {"\"sliding_window\": null", "\"sliding_window\": 4096", "sliding_window", "sliding-window attention is not supported"},
      {"\"sliding_window\": null", "\"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4.0}", "rope_scaling", "yarn"},
      {"\"sliding_window\": null", "\"mlp_bias\": true", "mlp_bias", "not supported"},
      {"\"hidden_act\": \"silu\"", "\"hidden_act\": \"gelu\"", "hidden_act", "gelu"},
      {"\"torch_dtype\": \"bfloat16\"", "\"torch_dtype\": \"int8\"", "torch_dtype", "int8"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.to);
    const std::string file = d.write("config.json", replaced(kMistralConfig, c.from, c.to));
    expect_bad_input([&] { parse_hf_config(d.path()); }, {file, c.key, c.why});
  }
}

}  // namespace
}  // namespace ferry
