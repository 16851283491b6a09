// What a Hugging Face tokenizer.json says beyond its BPE model, and what tokenizer_config.json beside
// it adds: the pre-tokenizer (recognised by its shape: GPT-2's ByteLevel, SmolLM's Digits then
// ByteLevel, LLaMA 3's Split regex then ByteLevel), the added tokens (matched in the text before
// BPE, as the `tokenizers` library does), the BOS that a TemplateProcessing post-processor or
// add_bos_token puts first, the EOS token and the chat template. Used by Tokenizer (tokenizer.cpp,
// and tokenizer_wordpiece.cpp for the added tokens and the vocabulary).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ferry {

struct HfTokenizerExtras {
  std::string pre = "gpt2";  // a TokenizerData pre name: gpt2, smollm, llama-bpe
  std::vector<std::pair<std::string, std::int32_t>> added;  // content, id
  std::string bos_token, eos_token;  // "" = none named
  bool add_bos = false;
  std::string chat_template;  // "" = none
};

// `tj` is tokenizer.json (parsed) at `path`; tokenizer_config.json is read from the same folder
// when present. Throws BadInput naming the file and key for an unsupported or malformed value.
HfTokenizerExtras hf_tokenizer_extras(const nlohmann::json& tj, const std::string& path);

// tokenizer.json's added_tokens ({"id", "content"}), in order; `path` names the file in errors.
std::vector<std::pair<std::string, std::int32_t>> hf_added_tokens(const nlohmann::json& tj, const std::string& path);

// A {"token": id, ...} vocabulary (vocab.json, tokenizer.json's model.vocab), ids in [0, 2^24);
// `where` ("FILE: model.vocab") names it in errors (tokenizer.cpp).
std::unordered_map<std::string, std::int64_t> parse_vocab(const nlohmann::json& v, const std::string& where);

}  // namespace ferry
