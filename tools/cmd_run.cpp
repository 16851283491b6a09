// `ferry run`: prefill a nested batch of prompts and decode N tokens per sequence.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/units.h"
#include "memory/fs_kind.h"
#include "memory/probe.h"
#include "models/gguf.h"
#include "models/npy.h"
#include "models/tokenizer.h"
#include "runtime/bench/layer_report.h"
#include "runtime/bench/measure.h"
#include "runtime/prompts.h"
#include "runtime/report.h"
#include "tools/cli_common.h"
#include "tools/model_tokenizer.h"

namespace ferry::cli {
namespace {

struct RunFlags {
  std::string model = "gpt2";
  std::string prompt_file;
  std::string prompt;
  bool ids = false;
  int n = 16;
  std::string sampling = "greedy";
  float temperature = 1.0f;
  int top_k = 0;
  float top_p = 1.0f;
  std::uint64_t seed = 0;
  std::string logits_out;
  std::string trace;
  bool json = false;
  std::string probe;      // a saved `ferry probe` JSON
  bool no_probe = false;  // no bound at all (no quick probe either)
  bool report = false;    // per-layer table and the verdict after the run
  bool chat = false;      // wrap the prompt in the model's chat template
  bool ignore_eos = false;
  EngineFlags engine;
  GivenFlags given;       // the flags on the command line
};

// "The quick brown fox" in the GPT-2 vocabulary: the prompt used when none is given.
const std::vector<std::int32_t> kDefaultPrompt = {464, 2068, 7586, 21831};

// `--prompt-file F` without --ids: one text prompt per line (blank lines skipped).
std::vector<std::vector<std::int32_t>> read_prompt_text_file(const std::string& path, const Tokenizer& tok) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw BadInput("--prompt-file: cannot open " + path);
  std::vector<std::vector<std::int32_t>> prompts;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) prompts.push_back(tok.encode(line, true));
  }
  if (prompts.empty()) throw BadInput(path + ": no prompt (every line is empty)");
  return prompts;
}

// The decoded tokens, which follow the prompt `prompt` (a SentencePiece piece keeps its leading space
// there); an id the tokenizer does not know (a model vocabulary padded beyond the tokenizer's)
// shows as U+FFFD.
std::string decode_text(const Tokenizer& tok, const std::vector<std::int32_t>& ids,
                        const std::vector<std::int32_t>& prompt) {
  std::string text;
  std::int32_t prev = prompt.empty() ? -1 : prompt.back();
  for (const std::int32_t id : ids) {
    text += tok.has_id(id) ? tok.token_text(id, prev) : std::string("\xEF\xBF\xBD");
    prev = id;
  }
  return text;
}

// The sampler's knobs mean nothing to greedy decoding: given without `--sampling sample` they are an
// error, not silently dropped (and not an implied switch of mode, which would change the output).
void check_sampling_flags(const RunFlags& f) {
  if (f.sampling == "sample") return;
  for (const char* flag : {"--temperature", "--top-k", "--top-p", "--seed"})
    if (f.given.count(flag))
      throw BadInput(std::string(flag) + ": only used by --sampling sample, and this run is --sampling " + f.sampling +
                     " (add --sampling sample)");
}

// Where the pack file of the CPU mmap tiers went: stderr and the --json stats say it, so a pack
// file in RAM (a tmpfs) is not mistaken for disk.
struct PackWhere {
  bool used = false;  // the plan has a pack file (CPU um, um-prefetch, stream)
  std::string dir;
  std::string fs;
};

PackWhere pack_where(const EngineConfig& cfg, const Plan& plan) {
  PackWhere w;
  if (cfg.device != DeviceKind::CPU) return w;
  w.used = plan.policy != Policy::Resident;
  w.dir = cfg.pack_dir;
  w.fs = filesystem_of(cfg.pack_dir, "--pack-dir").type;
  return w;
}

void run(const RunFlags& f) {
  if (!f.prompt.empty() && !f.prompt_file.empty()) throw BadInput("--prompt and --prompt-file: give one, not both");
  if (f.ids && f.prompt.empty() && f.prompt_file.empty())
    throw BadInput("--ids: says how --prompt or --prompt-file are read, and neither is given");
  const bool text_prompts = (!f.prompt.empty() || !f.prompt_file.empty()) && !f.ids;
  const ModelSpec spec = load_model_spec(f.model);
  std::optional<Tokenizer> tokenizer;
  if (text_prompts) {
    tokenizer = model_tokenizer(spec);
    if (!tokenizer) throw_no_tokenizer(spec, f.prompt.empty() ? "--prompt-file" : "--prompt");
  } else {
    try {  // only for printing the generated text: a broken tokenizer does not stop an --ids run
      tokenizer = model_tokenizer(spec);
    } catch (const BadInput& e) {
      if (!f.engine.quiet) std::fprintf(stderr, "ferry: warning: %s; no text output\n", e.what());
    }
  }
  std::optional<ChatTemplate> chat;
  if (f.chat) {
    if (!text_prompts || f.prompt.empty()) throw BadInput("--chat: needs a text --prompt");
    chat = model_chat_template(spec, tokenizer->chat_template());
  }
  std::vector<std::vector<std::int32_t>> prompts;
  if (!f.prompt_file.empty()) {
    prompts = f.ids ? read_prompt_ids_file(f.prompt_file) : read_prompt_text_file(f.prompt_file, *tokenizer);
  } else if (!f.prompt.empty()) {
    if (f.ids) prompts = parse_prompt_ids(f.prompt, "--prompt");
    else if (chat) prompts = {tokenizer->encode(chat->apply(f.prompt, ""), true)};
    else prompts = {tokenizer->encode(f.prompt, true)};
  } else {
    prompts = {kDefaultPrompt};  // folded into the vocabulary of small test models
    for (auto& id : prompts[0]) id %= spec.vocab_size;
  }

  GenerateRequest req;
  req.prompts = prompts;
  if (f.n < 0) throw BadInput("-n: must be >= 0, got " + std::to_string(f.n));
  req.max_new_tokens = f.n;
  if (f.sampling == "greedy") {
    req.sampling.greedy = true;
  } else if (f.sampling == "sample") {
    req.sampling.greedy = false;
    if (!(f.temperature > 0)) throw BadInput("--temperature: must be > 0");
    if (f.top_k < 0) throw BadInput("--top-k: must be >= 0");
    if (!(f.top_p > 0 && f.top_p <= 1)) throw BadInput("--top-p: must be in (0, 1]");
  } else {
    throw BadInput("--sampling: unknown mode '" + f.sampling + "' (expected greedy or sample)");
  }
  check_sampling_flags(f);
  req.sampling.temperature = f.temperature;
  req.sampling.top_k = f.top_k;
  req.sampling.top_p = f.top_p;
  req.sampling.seed = f.seed;
  req.prompt_logits = !f.logits_out.empty();
  if (tokenizer && !f.ignore_eos) {
    if (chat) req.stop_ids = chat->stop_ids(*tokenizer);
    else if (tokenizer->eos_id() >= 0) req.stop_ids = {tokenizer->eos_id()};
  }
  // Text in, text out: one sequence's text streams to stdout as it is sampled; statistics go to stderr.
  const bool stream_text = text_prompts && prompts.size() == 1 && !f.json;
  std::optional<TextStream> text_out;
  if (stream_text) {
    text_out.emplace(*tokenizer, prompts[0].empty() ? -1 : prompts[0].back());
    req.on_token = [&text_out, &req](int, std::int32_t id) {
      // The end-of-turn / end-of-sequence token ends the text; it is not part of it.
      if (std::find(req.stop_ids.begin(), req.stop_ids.end(), id) != req.stop_ids.end()) return;
      const std::string piece = text_out->push(id);
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    };
  }

  EngineConfig cfg = to_engine_config(f.engine, f.given);
  cfg.trace = !f.trace.empty() || f.report;  // the report reads the timeline
  if (!f.probe.empty() && f.no_probe) throw BadInput("--probe and --no-probe: give one, not both");
  if (!f.probe.empty()) cfg.probe = load_probe(f.probe);
  // Without --probe, a run measures a short probe itself, so every run reports its bound.
  else if (!f.no_probe) cfg.probe = bench::acquire_probe("", cfg.device, cfg.device_index, cfg.threads, cfg.pack_dir);
  Engine engine(spec, cfg);
  if (!f.engine.quiet) std::fprintf(stderr, "ferry: %s\n", engine.plan().summary().c_str());
  const PackWhere pack = pack_where(cfg, engine.plan());
  if (pack.used && !f.engine.quiet)
    std::fprintf(stderr, "ferry: pack file: an unnamed file in %s (%s)\n", pack.dir.c_str(), pack.fs.c_str());
  if (cfg.probe && f.probe.empty() && !f.engine.quiet)
    std::fprintf(stderr, "ferry: quick probe: %.3g GB/s link, %.3g GB/s memory (`ferry probe` measures with more care)\n",
                 engine.bound_link_bps() / 1e9, memory_bandwidth(*cfg.probe) / 1e9);
  const GenerateResult res = engine.generate(req);

  if (!f.logits_out.empty()) {
    const std::int64_t rows = res.stats.prompt_tokens;
    write_npy_f32(f.logits_out, res.prompt_logits.data(), rows, spec.vocab_size);
  }
  if (!f.trace.empty()) engine.timeline()->write_chrome_trace(f.trace);

  if (f.json) {
    nlohmann::json j = result_json(engine, req, res);
    // null when the run has no pack file (resident, or CUDA)
    j["stats"]["pack_dir"] = pack.used ? nlohmann::json(pack.dir) : nlohmann::json(nullptr);
    j["stats"]["pack_fs"] = pack.used ? nlohmann::json(pack.fs) : nlohmann::json(nullptr);
    if (tokenizer) {
      for (std::size_t i = 0; i < res.sequences.size(); ++i)
        j["sequences"][i]["generated_text"] =
            decode_text(*tokenizer, res.sequences[i].generated_ids, res.sequences[i].prompt_ids);
    }
    if (f.report)
      j["report"] = bench::layer_report_json(bench::layer_report(engine, res.stats, engine.timeline()->records()));
    std::printf("%s\n", dump_json(j, 2).c_str());
  } else if (stream_text) {
    const std::string rest = text_out->flush();
    std::fwrite(rest.data(), 1, rest.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
    if (!f.engine.quiet) print_result_text(engine, res, stderr);
    if (f.report)
      std::fprintf(stderr, "\n%s", bench::format_layer_report(bench::layer_report(engine, res.stats, engine.timeline()->records())).c_str());
  } else {
    print_result_text(engine, res, stdout);
    if (tokenizer) {
      for (std::size_t i = 0; i < res.sequences.size(); ++i) {
        const nlohmann::json text =
            decode_text(*tokenizer, res.sequences[i].generated_ids, res.sequences[i].prompt_ids);
        std::printf("sequence %zu text: %s\n", i, dump_json(text, -1).c_str());
      }
    }
    if (f.report)
      std::printf("\n%s", bench::format_layer_report(bench::layer_report(engine, res.stats, engine.timeline()->records())).c_str());
  }
}

}  // namespace

void register_run(CLI::App& app) {
  auto f = std::make_shared<RunFlags>();
  CLI::App* sub = app.add_subcommand(
      "run",
      "Prefill the prompts as one nested batch, then generate up to -n tokens per sequence with a KV\n"
      "cache; each sequence stops at its end-of-sequence token. A single text prompt's answer streams to\n"
      "stdout as it is generated (statistics on stderr).\n"
      "Example: ferry run -m smollm2.gguf --chat --prompt \"What is the capital of France?\" --budget 50%\n"
      "         ferry run -m gpt2-xl --policy um-prefetch --budget 25% --prefetch-depth 2 --streams 2\n"
      "         -n 16 --prompt-file p.txt --ids");
  sub->add_option("-m,--model", f->model, "Preset name, TOML file, Hugging Face directory or GGUF file")
      ->capture_default_str();
  sub->add_option("--prompt-file", f->prompt_file, "File with one prompt per line: text (the model's tokenizer), or token ids with --ids");
  sub->add_option("--prompt", f->prompt, "One prompt given inline: text (the model's tokenizer), or token ids with --ids");
  sub->add_flag("--ids", f->ids, "Prompts are token ids separated by spaces");
  sub->add_option("-n,--max-new-tokens", f->n, "Tokens to generate per sequence (0 = prompt only)")->capture_default_str();
  sub->add_option("--sampling", f->sampling,
                  "greedy, or sample (with --temperature, --top-k, --top-p, --seed; those four are an error\n"
                  "without --sampling sample)")
      ->capture_default_str();
  sub->add_option("--temperature", f->temperature, "--sampling sample: softmax temperature")->capture_default_str();
  sub->add_option("--top-k", f->top_k, "--sampling sample: keep the k most likely tokens (0 = off)")->capture_default_str();
  sub->add_option("--top-p", f->top_p, "--sampling sample: keep the smallest set with probability >= p (1 = off)")
      ->capture_default_str();
  sub->add_option("--seed", f->seed, "--sampling sample: seed of the sampler (draws depend on seed, sequence and step)")
      ->capture_default_str();
  sub->add_option("--logits-out", f->logits_out,
                  "Write the prompt logits as float32 .npy [total_prompt_tokens, vocab], input order");
  sub->add_option("--trace", f->trace, "Write a Chrome trace JSON of every prefetch/compute/evict (open in Perfetto)");
  sub->add_option("--probe", f->probe,
                  "Bandwidths saved by `ferry probe` to report every step against (default: a quick probe now)");
  sub->add_flag("--no-probe", f->no_probe, "Measure nothing and report no bound");
  sub->add_flag("--report", f->report,
                "After the run, a per-layer table (bytes, resident or streamed, prefetch wait, compute time)\n"
                "and the verdict: the achieved fraction of the bound and the resource that bound it");
  sub->add_flag("--json", f->json,
                "Print one JSON object: sequences[].prompt_ids, sequences[].generated_ids, generated_text, stats");
  sub->add_flag("--chat", f->chat,
                "Wrap --prompt in the model's chat template (ChatML or LLaMA 3, recognised from the GGUF's\n"
                "tokenizer.chat_template) and stop at the end of the assistant's turn");
  sub->add_flag("--ignore-eos", f->ignore_eos, "Generate all -n tokens even past the end-of-sequence token (benchmarks)");
  add_engine_flags(*sub, f->engine);
  sub->callback([f, sub] {
    f->given = given_flags(*sub);
    run(*f);
  });
}

}  // namespace ferry::cli
