// GGUF files (models/gguf.h) written by the PyPI `gguf` package (scripts/gguf/make_gguf_tests.py):
// the spec, dequantization of every type against gguf.quants.dequantize, llama.cpp's Q/K row order
// undone (the GGUF reads as the Hugging Face tensors of the same model), and every malformed file a
// one-line BadInput, never a crash.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "models/gguf.h"
#include "models/weights.h"

namespace ferry {
namespace {

namespace fs = std::filesystem;
const std::string kDir = std::string(FERRY_TEST_DATA) + "/gguf";

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string write_temp(const std::string& name, const std::string& bytes) {
  const std::string p = (fs::path(::testing::TempDir()) / name).string();
  std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
  return p;
}

// The BadInput message of loading `path` as a model; "" when it loads.
std::string load_error(const std::string& path) {
  try {
    const ModelSpec s = gguf_model_spec(path);
    auto src = open_gguf_weights(path);
    std::vector<float> buf;
    for (const TensorInfo& t : model_family(s).tensors(s)) {
      buf.resize(static_cast<std::size_t>(t.shape.numel()));
      src->read(t.name, t.shape, DType::F32, buf.data());
    }
    (void)gguf_tokenizer_data(path);
  } catch (const BadInput& e) {
    return e.what();
  }
  return "";
}

TEST(Gguf, TinySpec) {
  const ModelSpec s = gguf_model_spec(kDir + "/tiny.gguf");
  EXPECT_EQ(s.family, "llama");
  EXPECT_EQ(s.vocab_size, 67);
  EXPECT_EQ(s.hidden_size, 48);
  EXPECT_EQ(s.num_layers, 2);
  EXPECT_EQ(s.num_heads, 6);
  EXPECT_EQ(s.kv_heads(), 2);
  EXPECT_EQ(s.ffn_size, 40);
  EXPECT_EQ(s.context_length, 64);
  EXPECT_FALSE(s.tied_embeddings);
  EXPECT_EQ(gguf_tokenizer_data(kDir + "/tiny.gguf").model, "none");  // runs with --ids
}

TEST(Gguf, ReadsAsTheHuggingFaceTensorsOfTheSameModel) {
  const ModelSpec s = gguf_model_spec(kDir + "/tiny.gguf");
  auto g = open_gguf_weights(kDir + "/tiny.gguf");
  auto h = open_checkpoint(kDir + "/tiny-hf");
  int checked = 0;
  for (const TensorInfo& t : model_family(s).tensors(s)) {
    std::vector<float> a(static_cast<std::size_t>(t.shape.numel())), b(a.size());
    g->read(t.name, t.shape, DType::F32, a.data());
    h->read(t.name, t.shape, DType::F32, b.data());
    EXPECT_EQ(a, b) << t.name;  // q_proj / k_proj: only equal once the permutation is undone
    ++checked;
  }
  EXPECT_EQ(checked, 3 + 2 * 9);
}

TEST(Gguf, DequantizationMatchesTheGgufPackage) {
  const GgufFile f(kDir + "/quants.gguf");
  const nlohmann::json expected = nlohmann::json::parse(read_all(kDir + "/quants.json"));
  ASSERT_EQ(f.tensors().size(), expected.size());
  for (const GgufTensor& t : f.tensors()) {
    const std::string type = ggml_type_name(t.type);
    SCOPED_TRACE(type);
    const auto want = expected.at(type).at("values").get<std::vector<float>>();
    std::vector<float> got(static_cast<std::size_t>(t.elements()));
    ASSERT_EQ(got.size(), want.size());
    dequantize(t.type, f.tensor_data(t), got.data(), got.size());
    int off = 0;
    for (std::size_t i = 0; i < got.size(); ++i)
      if (std::fabs(got[i] - want[i]) > 1e-6f * std::max(1.0f, std::fabs(want[i]))) ++off;
    EXPECT_EQ(off, 0) << "values differing from gguf.quants.dequantize";
  }
}

// One key of every GGUF value type, written by the gguf package, with a custom alignment of 64;
// the same file with its version field set to 2 (the layouts of versions 2 and 3 are the same for
// little-endian files) reads the same.
TEST(Gguf, EveryValueTypeBothVersionsAndACustomAlignment) {
  const std::string v3 = kDir + "/types.gguf";
  std::string bytes = read_all(v3);
  bytes[4] = 2;
  for (const std::string& path : {v3, write_temp("types-v2.gguf", bytes)}) {
    SCOPED_TRACE(path);
    const GgufFile f(path);
    EXPECT_EQ(f.version(), path == v3 ? 3u : 2u);
    EXPECT_EQ(f.get_uint("t.u8"), 200u);
    EXPECT_EQ(std::get<std::int64_t>(f.metadata().at("t.i8").v), -100);
    EXPECT_EQ(f.get_uint("t.u16"), 60000u);
    EXPECT_EQ(std::get<std::int64_t>(f.metadata().at("t.i16").v), -30000);
    EXPECT_EQ(f.get_uint("t.u32"), 4000000000u);
    EXPECT_EQ(std::get<std::int64_t>(f.metadata().at("t.i32").v), -2000000000);
    EXPECT_EQ(f.get_float("t.f32"), 1.5);
    EXPECT_EQ(f.get_uint("t.u64"), (std::uint64_t{1} << 63) + 5);
    EXPECT_EQ(std::get<std::int64_t>(f.metadata().at("t.i64").v), -(std::int64_t{1} << 62));
    EXPECT_EQ(f.get_float("t.f64"), -2.25);
    EXPECT_TRUE(f.get_bool("t.bool"));
    EXPECT_EQ(f.get_string("t.str"), "h\xC3\xA9llo");
    ASSERT_EQ(f.get_array("t.arr").size(), 3u);
    EXPECT_EQ(std::get<std::int64_t>(f.get_array("t.arr")[2].v), 3);
    ASSERT_EQ(f.get_array("t.strs").size(), 2u);
    EXPECT_EQ(std::get<std::string>(f.get_array("t.strs")[1].v), "bc");
    const auto& nested = f.get_array("t.nested");
    ASSERT_EQ(nested.size(), 2u);
    const auto& inner = std::get<std::vector<GgufValue>>(nested[0].v);
    ASSERT_EQ(inner.size(), 2u);
    EXPECT_EQ(std::get<std::int64_t>(inner[1].v), 2);
    EXPECT_EQ(f.get_uint("general.alignment"), 64u);
    const GgufTensor* x = f.find_tensor("x");
    ASSERT_NE(x, nullptr);
    EXPECT_EQ(x->ne, (std::vector<std::uint64_t>{32, 3}));
    std::vector<float> got(96);
    dequantize(x->type, f.tensor_data(*x), got.data(), 96);
    for (int i = 0; i < 96; ++i) EXPECT_EQ(got[static_cast<std::size_t>(i)], static_cast<float>(i));
    // The data section starts on the file's own alignment.
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(f.tensor_data(*x)) % 64, 0u);
    EXPECT_THROW((void)f.get_string("t.u8"), BadInput);
  }
}

TEST(Gguf, MalformedFilesAreOneLineErrors) {
  const std::string good = read_all(kDir + "/micro.gguf");
  ASSERT_EQ(load_error(kDir + "/micro.gguf"), "");
  struct Case {
    std::string file, expect;
  };
  std::string magic = good, version = good, overlap = good;
  magic[0] = 'X';
  version[4] = 1;
  std::vector<Case> cases = {
      {write_temp("magic.gguf", magic), "wrong magic"},
      {write_temp("version.gguf", version), "unknown GGUF version 1"},
      {write_temp("header.gguf", good.substr(0, 20)), "truncated"},
      {write_temp("meta.gguf", good.substr(0, 200)), "truncated"},
      {write_temp("data.gguf", good.substr(0, good.size() - 8)), "runs past the end"},
      {kDir + "/bad-arch.gguf", "unknown architecture 'falcon'"},
      {kDir + "/bad-missing-key.gguf", "'llama.block_count' is missing"},
      {kDir + "/bad-key-type.gguf", "'llama.embedding_length' has type string"},
      {kDir + "/bad-shape.gguf", "blk.0.ffn_up.weight' has shape"},
      {kDir + "/bad-vocab.gguf", "the vocabulary has 7 tokens but the embedding has 8 rows"},
      {kDir + "/bad-type.gguf", "tensor 'blk.0.attn_q.weight' has ggml type 16"},
  };
  // Overlap: the second tensor's offset field set to the first's (0). Its info ends with the u64
  // offset right after the name, dims and type: find the name and step over them.
  const std::string name = "output_norm.weight";
  std::size_t at = overlap.find(name);
  ASSERT_NE(at, std::string::npos);
  at += name.size();
  std::uint32_t dims;
  std::memcpy(&dims, overlap.data() + at, 4);
  at += 4 + 8 * dims + 4;
  std::memset(overlap.data() + at, 0, 8);
  cases.push_back({write_temp("overlap.gguf", overlap), "overlap"});
  for (const Case& c : cases) {
    const std::string err = load_error(c.file);
    EXPECT_NE(err.find(c.expect), std::string::npos) << c.file << ": got '" << err << "'";
    EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  }
}

// The real model, when FERRY_SMOLLM2_GGUF names it (scripts/smollm2 fetches it).
TEST(Gguf, SmolLM2) {
  const char* path = std::getenv("FERRY_SMOLLM2_GGUF");
  if (!path || !fs::exists(path)) GTEST_SKIP() << "FERRY_SMOLLM2_GGUF is not set: SmolLM2-135M not tested";
  const ModelSpec s = gguf_model_spec(path);
  EXPECT_EQ(s.hidden_size, 576);
  EXPECT_EQ(s.num_layers, 30);
  EXPECT_EQ(s.num_heads, 9);
  EXPECT_EQ(s.kv_heads(), 3);
  EXPECT_EQ(s.vocab_size, 49152);
  EXPECT_EQ(s.ffn_size, 1536);
  EXPECT_EQ(load_error(path), "");
}

}  // namespace
}  // namespace ferry
