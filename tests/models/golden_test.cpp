// The golden data of tests/data/golden (made by scripts/golden/make_golden.py) loads with the right
// shapes. The end-to-end comparison against ferry's forward pass lives with the runtime tests.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "models/npy.h"
#include "models/safetensors.h"
#include "models/weights.h"

namespace ferry {
namespace {

const std::string kDir = std::string(FERRY_TEST_DATA) + "/golden";

std::vector<std::vector<int>> prompts() {
  std::ifstream in(kDir + "/prompts.txt");
  std::vector<std::vector<int>> out;
  for (std::string line; std::getline(in, line);) {
    std::istringstream ss(line);
    std::vector<int> ids;
    for (int id; ss >> id;) ids.push_back(id);
    out.push_back(ids);
  }
  return out;
}

TEST(Golden, ModelLoads) {
  const ModelSpec spec = load_model_spec(kDir);
  EXPECT_EQ(spec.vocab_size, 101);
  EXPECT_EQ(spec.context_length, 64);
  EXPECT_EQ(spec.hidden_size, 96);
  EXPECT_EQ(spec.num_heads, 3);
  EXPECT_EQ(spec.num_layers, 3);
  EXPECT_EQ(spec.ffn_size, 384);
  EXPECT_EQ(spec.dtype, DType::F32);
  EXPECT_TRUE(spec.tied_embeddings);
  auto src = make_weight_source(spec);
  double checksum = 0;
  for (const TensorInfo& t : gpt2_tensors(spec)) {
    std::vector<float> v(static_cast<std::size_t>(t.shape.numel()));
    src->read(t.name, t.shape, DType::F32, v.data());
    for (float x : v) checksum += std::fabs(x);
  }
  EXPECT_GT(checksum, 0.0);
  // The mask buffers are in the file (and were ignored above).
  const SafetensorsFile f = SafetensorsFile::open(kDir + "/model.safetensors");
  ASSERT_NE(f.find("h.0.attn.bias"), nullptr);
  EXPECT_EQ(f.find("h.0.attn.bias")->dtype, "BOOL");
}

TEST(Golden, LogitsAndGreedyShapes) {
  const auto p = prompts();
  ASSERT_EQ(p.size(), 3u);
  std::int64_t total = 0;
  for (const auto& ids : p) {
    EXPECT_FALSE(ids.empty());
    for (int id : ids) EXPECT_TRUE(id >= 0 && id < 101) << id;
    total += static_cast<std::int64_t>(ids.size());
  }
  const NpyF32 logits = read_npy_f32(kDir + "/logits.npy");
  EXPECT_EQ(logits.rows, total);
  EXPECT_EQ(logits.cols, 101);
  for (float x : logits.data) ASSERT_TRUE(std::isfinite(x));

  std::ifstream in(kDir + "/greedy.json");
  const nlohmann::json g = nlohmann::json::parse(in);
  EXPECT_EQ(g["version"], "golden-v1");
  EXPECT_EQ(g["n"], 8);
  ASSERT_EQ(g["generated"].size(), 3u);
  for (const auto& seq : g["generated"]) {
    ASSERT_EQ(seq.size(), 8u);
    for (const auto& id : seq) EXPECT_TRUE(id.get<int>() >= 0 && id.get<int>() < 101);
  }
}

}  // namespace
}  // namespace ferry
