// What the encoder subcommands (embed, fill-mask, classify) share: the model and input flags, the
// inputs read as nested sequences, the engine, and the statistics they print.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/tokenizer.h"
#include "runtime/engine.h"
#include "tools/cli_common.h"

namespace ferry::cli {

struct EncoderFlags {
  std::string model;
  std::string prompt;
  std::string prompt_file;
  bool ids = false;
  bool json = false;
  EngineFlags engine;
  GivenFlags given;
};

// -m, --prompt, --prompt-file, --ids, --json and the engine flags. `what` says what one line is.
void add_encoder_flags(CLI::App& sub, EncoderFlags& f, const std::string& what);

struct EncoderInputs {
  ModelSpec spec;
  std::optional<Tokenizer> tokenizer;          // the model's, when it has one
  std::vector<std::string> texts;              // the input lines as given
  std::vector<std::vector<std::int32_t>> ids;  // text: [CLS] ... [SEP] by the tokenizer; --ids: as they are
};

// Loads the spec and the tokenizer and reads the inputs: --prompt is one input, --prompt-file one
// per line. BadInput for neither or both, an empty line (naming it), text without a tokenizer, or
// a model that is not an encoder.
EncoderInputs read_encoder_inputs(const EncoderFlags& f, const std::string& command);

// The engine for the run, its plan printed on stderr unless --quiet.
std::unique_ptr<Engine> make_encoder_engine(const ModelSpec& spec, const EncoderFlags& f);

// The pass's statistics: tokens, time, tokens/s, activation memory, weights moved, budget.
nlohmann::json encode_stats_json(const Engine& engine, const RunStats& st, std::uint64_t activation_bytes);
void print_encode_stats(const Engine& engine, const RunStats& st, std::uint64_t activation_bytes, std::FILE* out);
// --json: `doc` with "stats" (encode_stats_json) added, on stdout.
void print_encode_json(nlohmann::json doc, const Engine& engine, const RunStats& st, std::uint64_t activation_bytes);

// The text of one token for display ([MASK] fillers, token labels): the tokenizer's, or "#id".
std::string token_display(const std::optional<Tokenizer>& tok, std::int32_t id);

// Softmax of one row of logits, in double.
std::vector<double> softmax(const float* logits, int n);

}  // namespace ferry::cli
