// A sentence-transformers model directory (modules.json: Transformer -> Pooling [-> Normalize]):
// the pooling and normalization its embeddings are defined with, which `ferry embed` uses by default.
// https://www.sbert.net/docs/package_reference/sentence_transformer/models.html
#pragma once
#include <optional>
#include <string>

namespace ferry {

struct SentenceTransformersConfig {
  std::string pooling = "mean";  // "mean" (pooling_mode_mean_tokens) or "cls" (pooling_mode_cls_token)
  bool normalize = false;        // a Normalize module follows the pooling: unit L2 norm
  std::string source;            // the modules.json read
};

// std::nullopt when `dir` has no modules.json (a plain Hugging Face directory). BadInput naming the
// file for a malformed one, a pooling mode ferry does not implement (max, mean_sqrt_len, weighted
// mean, several at once) or a module other than Transformer, Pooling and Normalize (a Dense layer:
// the embeddings would be wrong without it).
std::optional<SentenceTransformersConfig> read_sentence_transformers(const std::string& dir);

}  // namespace ferry
