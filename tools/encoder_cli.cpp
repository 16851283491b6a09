// The encoder subcommands' shared flags, inputs, engine and statistics (tools/encoder_cli.h).
#include "tools/encoder_cli.h"

#include <algorithm>
#include <cmath>
#include <fstream>

#include "base/error.h"
#include "base/units.h"
#include "models/family.h"
#include "runtime/prompts.h"
#include "tools/model_tokenizer.h"

namespace ferry::cli {

void add_encoder_flags(CLI::App& sub, EncoderFlags& f, const std::string& what) {
  sub.add_option("-m,--model", f.model, "Hugging Face BERT directory (sentence-transformers too), TOML file or preset")
      ->required();
  sub.add_option("--prompt", f.prompt, "One input given inline: text (the model's tokenizer), or token ids with --ids");
  sub.add_option("--prompt-file", f.prompt_file,
                 "File with one " + what + " per line (all lines are one nested batch); an empty line is an error");
  sub.add_flag("--ids", f.ids, "Inputs are token ids separated by spaces, used as they are (no [CLS]/[SEP] added)");
  sub.add_flag("--json", f.json, "Print one JSON object instead of the text summary");
  add_engine_flags(sub, f.engine);
}

namespace {

// One input per line; a blank line is an error naming it (each line is one output row).
std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw BadInput("--prompt-file: cannot open " + path);
  std::vector<std::string> lines;
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos)
      throw BadInput(path + ":" + std::to_string(n) + ": empty line (each line is one input)");
    lines.push_back(line);
  }
  if (lines.empty()) throw BadInput(path + ": no input (the file is empty)");
  return lines;
}

}  // namespace

EncoderInputs read_encoder_inputs(const EncoderFlags& f, const std::string& command) {
  if (f.prompt.empty() == f.prompt_file.empty()) throw BadInput(command + ": give --prompt or --prompt-file (one of them)");
  EncoderInputs in;
  in.spec = load_model_spec(f.model);
  if (model_family(in.spec).causal())
    throw BadInput("model " + in.spec.name + " (family " + in.spec.family + ") is a decoder: " + command +
                   " needs an encoder (family bert); use ferry run");
  const std::string flag = f.prompt.empty() ? "--prompt-file" : "--prompt";
  try {
    in.tokenizer = model_tokenizer(in.spec);
  } catch (const BadInput&) {
    if (!f.ids) throw;  // --ids does not need it (it only labels tokens in the output)
  }
  in.texts = f.prompt_file.empty() ? std::vector<std::string>{f.prompt} : read_lines(f.prompt_file);
  if (!f.ids && !in.tokenizer) throw_no_tokenizer(in.spec, flag);
  for (std::size_t i = 0; i < in.texts.size(); ++i) {
    if (f.ids) {
      auto seqs = parse_prompt_ids(in.texts[i], flag + (f.prompt_file.empty() ? "" : " line " + std::to_string(i + 1)));
      if (seqs.size() != 1 || seqs[0].empty()) throw BadInput(flag + ": input " + std::to_string(i + 1) + " has no ids");
      in.ids.push_back(std::move(seqs[0]));
    } else {
      in.ids.push_back(in.tokenizer->encode(in.texts[i], true));
    }
  }
  return in;
}

std::unique_ptr<Engine> make_encoder_engine(const ModelSpec& spec, const EncoderFlags& f) {
  const EngineConfig cfg = to_engine_config(f.engine, f.given);
  auto engine = std::make_unique<Engine>(spec, cfg);
  if (!f.engine.quiet) std::fprintf(stderr, "ferry: %s\n", engine->plan().summary().c_str());
  return engine;
}

nlohmann::json encode_stats_json(const Engine& engine, const RunStats& st, std::uint64_t activation_bytes) {
  nlohmann::json j;
  j["model"] = engine.spec().name;
  j["policy"] = policy_name(engine.plan().policy);
  j["tokens"] = st.prompt_tokens;
  j["load_s"] = st.load_s;
  j["encode_s"] = st.prefill_s;
  j["tokens_per_s"] = st.prefill_tokens_per_s;
  j["activation_bytes"] = activation_bytes;
  j["weight_bytes_moved"] = st.bytes_h2d;
  j["budget_bytes"] = st.budget;
  j["peak_resident_bytes"] = st.peak_resident;
  j["model_bytes"] = st.model_bytes;
  return j;
}

void print_encode_stats(const Engine& engine, const RunStats& st, std::uint64_t activation_bytes, std::FILE* out) {
  std::fprintf(out, "ferry: %s, %lld tokens in %.1f ms (%.0f tokens/s), load %.2f s; activations %s; "
               "weights moved %s, peak resident %s of %s\n",
               engine.spec().name.c_str(), static_cast<long long>(st.prompt_tokens), st.prefill_s * 1e3,
               st.prefill_tokens_per_s, st.load_s, format_bytes(activation_bytes).c_str(),
               format_bytes(st.bytes_h2d).c_str(), format_bytes(st.peak_resident).c_str(),
               format_bytes(st.model_bytes).c_str());
}

void print_encode_json(nlohmann::json doc, const Engine& engine, const RunStats& st, std::uint64_t activation_bytes) {
  doc["stats"] = encode_stats_json(engine, st, activation_bytes);
  std::printf("%s\n", dump_json(doc, 2).c_str());
}

std::string token_display(const std::optional<Tokenizer>& tok, std::int32_t id) {
  if (tok && tok->has_id(id)) return tok->token_bytes_of(id);
  return "#" + std::to_string(id);
}

std::vector<double> softmax(const float* logits, int n) {
  std::vector<double> p(static_cast<std::size_t>(n));
  const double m = n > 0 ? *std::max_element(logits, logits + n) : 0.0;
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += p[static_cast<std::size_t>(i)] = std::exp(static_cast<double>(logits[i]) - m);
  for (double& v : p) v /= sum;
  return p;
}

}  // namespace ferry::cli
