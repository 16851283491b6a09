// The tokenizer a model's files carry, for the subcommands that take text (run, embed, fill-mask,
// classify), and the error when there is none.
#pragma once
#include <optional>
#include <string>

#include "models/model_spec.h"
#include "models/tokenizer.h"

namespace ferry::cli {

// The tokenizer of the model's GGUF file or Hugging Face directory (ModelSpec.weights.path), if it
// has one (a GGUF with tokenizer.ggml.model "none" has none). It keeps the files' chat template
// (GGUF tokenizer.chat_template, read with the vocabulary in the same pass over the file;
// tokenizer_config.json's chat_template).
std::optional<Tokenizer> model_tokenizer(const ModelSpec& spec);

// The chat template the model file carries (`text`, Tokenizer::chat_template).
ChatTemplate model_chat_template(const ModelSpec& spec, const std::string& text);

// Text prompts without a tokenizer: the one-line BadInput naming the flag, the model and why.
[[noreturn]] void throw_no_tokenizer(const ModelSpec& spec, const std::string& flag);

}  // namespace ferry::cli
