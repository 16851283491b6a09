// TokenizerData: a tokenizer's vocabulary as a model file carries it (GGUF metadata
// "tokenizer.ggml.*"), independent of the file format. models/gguf.cpp fills it; the tokenizer
// (models/tokenizer.h) builds from it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ferry {

struct TokenizerData {
  std::string model;               // tokenizer.ggml.model: "gpt2" (byte-level BPE), "llama" (SentencePiece), "none"
  std::string pre;                 // tokenizer.ggml.pre: "gpt2", "llama-bpe", "smollm", ... ("" = default)
  std::vector<std::string> tokens; // tokenizer.ggml.tokens, index = id
  std::vector<float> scores;       // tokenizer.ggml.scores (SentencePiece), may be empty
  std::vector<std::int32_t> token_type;  // tokenizer.ggml.token_type (1 normal, 2 unknown, 3 control,
                                          // 4 user-defined, 5 unused, 6 byte), may be empty
  std::vector<std::string> merges; // tokenizer.ggml.merges ("a b"), byte-level BPE
  std::int32_t bos_id = -1, eos_id = -1, unk_id = -1, pad_id = -1;  // -1 = absent
  bool add_bos = false, add_eos = false;  // tokenizer.ggml.add_bos_token / add_eos_token (absent:
                                          // BOS for model "llama", as llama.cpp; otherwise none)
  bool add_space_prefix = true;           // tokenizer.ggml.add_space_prefix (SentencePiece)
  std::string chat_template;              // tokenizer.chat_template ("" = absent)
  std::string origin;                     // the file, for messages
};

}  // namespace ferry
