// The tokenizer a model's files carry (tools/model_tokenizer.h).
#include "tools/model_tokenizer.h"

#include "base/error.h"
#include "models/gguf.h"

namespace ferry::cli {

// The tokenizer of the model's GGUF file or Hugging Face directory (ModelSpec.weights.path), if it
// has one (a GGUF with tokenizer.ggml.model "none" has none). It keeps the files' chat template
// (GGUF tokenizer.chat_template, read with the vocabulary in the same pass over the file;
// tokenizer_config.json's chat_template).
std::optional<Tokenizer> model_tokenizer(const ModelSpec& spec) {
  if (spec.weights.random || spec.weights.path.empty()) return std::nullopt;
  if (is_gguf_path(spec.weights.path)) return Tokenizer::from_data(gguf_tokenizer_data(spec.weights.path));
  return Tokenizer::load(spec.weights.path);
}

// The chat template the model file carries (`text`, Tokenizer::chat_template).
ChatTemplate model_chat_template(const ModelSpec& spec, const std::string& text) {
  if (text.empty()) throw BadInput("--chat: model " + spec.name + " carries no chat template");
  return ChatTemplate(text);
}

// Text prompts without a tokenizer: the one-line BadInput naming the flag, the model and why.
[[noreturn]] void throw_no_tokenizer(const ModelSpec& spec, const std::string& flag) {
  const std::string why = spec.weights.random || spec.weights.path.empty()
                              ? "its weights are random, not a Hugging Face directory or GGUF file"
                          : is_gguf_path(spec.weights.path)
                              ? "the GGUF file's tokenizer.ggml.model is none"
                              : "no tokenizer.model, tokenizer.json, vocab.json/merges.txt or vocab.txt in " + spec.weights.path;
  throw BadInput(flag + ": model " + spec.name + " has no tokenizer (" + why + "); give token ids with --ids");
}

}  // namespace ferry::cli
