// Sentence embeddings from an encoder: the last hidden states (Engine::encode) pooled per sequence
// and optionally normalized, as sentence-transformers defines them (Reimers & Gurevych 2019).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/engine.h"

namespace ferry {

enum class Pooling : std::uint8_t {
  Mean,    // the mean of every token's last hidden state (a nested batch has no padding to mask)
  Cls,     // the first token's ([CLS]) hidden state
  Pooler,  // BERT's pooler: tanh(dense(hidden[CLS]))
  None,    // no pooling: every token's hidden state, [total_tokens, H] in input order
};
Pooling parse_pooling(const std::string& s, const std::string& what);  // "mean", "cls", "pooler", "none"
const char* pooling_name(Pooling p);

// The pass's result with its values pooled: [rows, width], rows = sequences, or tokens for
// Pooling::None; stats and activation_bytes are the pass's.
using Embeddings = EncodeResult;

// Runs the batch and pools it. normalize: each row scaled to unit L2 norm (a zero row stays zero).
Embeddings embed(Engine& engine, const std::vector<std::vector<std::int32_t>>& inputs, Pooling pooling, bool normalize);

// cos(a_i, b_j) for rows of one [rows, width] matrix: [rows, rows], in double.
std::vector<double> cosine_matrix(const std::vector<float>& rows, std::int64_t n, int width);

}  // namespace ferry
