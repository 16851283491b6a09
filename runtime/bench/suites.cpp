// `ferry bench`: the suite dispatcher and the results files common to every suite.
#include "runtime/bench/suites.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "base/error.h"
#include "memory/probe.h"
#include "runtime/bench/table.h"
#include "base/sysinfo.h"
#include "runtime/pressure.h"
#include "runtime/report.h"

namespace ferry::bench {

using nlohmann::json;

const std::vector<std::string>& bench_suite_names() {
  static const std::vector<std::string> names = {"nested-vs-padded", "streams", "fusion", "decode", "prefill", "encoder"};
  return names;
}

json bench_meta(const BenchOptions& opt, const ModelSpec& spec) {
  std::unique_ptr<Backend> backend = make_backend(opt.engine.device, opt.engine.device_index, opt.engine.threads);
  json meta;
  meta["tool"] = "ferry bench";
  meta["suite"] = opt.suite;
  meta["commit"] = git_commit();
  meta["when"] = utc_now_iso();
  meta["machine"] = machine_json(*backend);
  meta["model"] = {{"name", spec.name},         {"source", spec.source},      {"parameters", spec.parameter_count()},
                   {"layers", spec.num_layers}, {"hidden", spec.hidden_size}, {"heads", spec.num_heads},
                   {"ffn", spec.ffn_size},      {"vocab", spec.vocab_size},   {"dtype", dtype_name(spec.dtype)}};
  const EngineConfig& e = opt.engine;
  meta["knobs"] = {{"model", opt.model},
                   {"device", device_name(e.device)},
                   {"device_index", e.device_index},
                   {"threads", e.threads},
                   {"policy", policy_name(e.policy)},
                   {"budget", e.budget.set ? json(e.budget.str()) : json(nullptr)},
                   {"prefetch_depth", e.prefetch_depth},
                   {"streams", e.streams},
                   {"pack_dir", e.pack_dir},
                   {"avg_seqlen", opt.lengths.avg},
                   {"seqlen_stdev", opt.lengths.stdev},
                   {"max_seqlen", opt.lengths.max},
                   {"max_seqlens", opt.max_seqlens},
                   {"max_tokens", opt.max_tokens},
                   {"seed", opt.lengths.seed},
                   {"batch_sizes", opt.batch_sizes},
                   {"padding_fractions", opt.padding_fractions},
                   {"stream_counts", opt.stream_counts},
                   {"depths", opt.depths},
                   {"prompt_len", opt.prompt_len},
                   {"gen", opt.gen},
                   {"repeats", opt.repeats},
                   {"warmup", opt.warmup},
                   {"iters", opt.iters}};
  meta["probe"] = e.probe ? json::parse(probe_to_json(*e.probe)) : json(nullptr);
  return meta;
}

namespace {

void check_suite_name(const std::string& suite) {
  for (const std::string& n : bench_suite_names())
    if (n == suite) return;
  std::string list;
  for (const std::string& n : bench_suite_names()) list += (list.empty() ? "" : ", ") + n;
  throw BadInput("ferry bench: unknown suite '" + suite + "' (expected one of: " + list + ")");
}

// Which suites read each flag of `ferry bench` (read from the suite bodies: a suite that overrides
// a knob, as streams does --streams and --prefetch-depth, does not read it). Empty = every suite.
const std::map<std::string, std::vector<std::string>>& suite_flag_table() {
  static const std::vector<std::string> all;
  static const std::vector<std::string> engine = {"nested-vs-padded", "streams", "decode", "prefill", "encoder"};
  static const std::vector<std::string> drawn = {"nested-vs-padded", "fusion"};
  static const std::vector<std::string> lengths = {"nested-vs-padded", "fusion", "encoder"};
  static const std::vector<std::string> bound = {"streams", "decode", "prefill"};
  static const std::map<std::string, std::vector<std::string>> table = {
      {"--model", all}, {"--out", all}, {"--compare", all}, {"--quiet", all}, {"--device", all},
      {"--threads", all}, {"--weights", all}, {"--batch-size", all}, {"--repeats", all}, {"--warmup", all},
      {"--avg-seqlen", drawn}, {"--max-seqlen", lengths}, {"--seqlen-stdev", lengths}, {"--seed", lengths},
      {"--padding-fractions", {"nested-vs-padded", "encoder"}}, {"--max-tokens", {"encoder"}},
      {"--stream-counts", {"streams"}}, {"--depths", {"streams"}},
      {"--prompt-len", bound}, {"--gen", {"streams", "decode"}},
      {"--iters", {"fusion"}},
      {"--probe", bound}, {"--no-probe", bound},
      {"--policy", engine}, {"--budget", engine}, {"--host-budget", engine}, {"--pack-dir", engine},
      {"--max-batch-tokens", engine}, {"--max-seqs", engine}, {"--gpu-mem-limit", engine},
      {"--allow-oversubscribe", engine},
      {"--prefetch-depth", {"nested-vs-padded", "decode", "prefill", "encoder"}},
      {"--streams", {"nested-vs-padded", "decode", "prefill", "encoder"}},
      {"--layout", {"streams", "decode", "prefill"}},  // nested-vs-padded and encoder run both layouts
  };
  return table;
}

void check_list(const std::vector<int>& v, int lo, int hi, const char* flag) {
  if (v.empty()) throw BadInput(std::string(flag) + ": the list is empty");
  for (int x : v)
    if (x < lo || x > hi)
      throw BadInput(std::string(flag) + ": " + std::to_string(x) + " is outside [" + std::to_string(lo) + ", " +
                     std::to_string(hi) + "]");
}

}  // namespace

void check_suite_flags(const std::string& suite, const std::set<std::string>& given, std::size_t batch_sizes,
                       std::size_t max_seqlens) {
  check_suite_name(suite);
  const auto& table = suite_flag_table();
  for (const std::string& flag : given) {
    const auto it = table.find(flag);
    if (it == table.end()) throw InternalError("ferry bench: " + flag + " is missing from the table of suite flags");
    const std::vector<std::string>& readers = it->second;
    if (readers.empty() || std::find(readers.begin(), readers.end(), suite) != readers.end()) continue;
    std::string list;
    for (const std::string& r : readers) list += (list.empty() ? "" : ", ") + r;
    throw BadInput(flag + ": the " + suite + " suite does not use it (it is read by: " + list + ")");
  }
  if (suite == "streams" && batch_sizes > 1)
    throw BadInput("--batch-size: the streams suite runs one batch size, got " + std::to_string(batch_sizes));
  if (suite != "encoder" && max_seqlens > 1)
    throw BadInput("--max-seqlen: the " + suite + " suite takes one value, got " + std::to_string(max_seqlens) +
                   " (a list is for the encoder suite)");
}

BenchTable run_bench(const BenchOptions& opt) {
  check_suite_name(opt.suite);
  check_list(opt.batch_sizes, 1, 1 << 16, "--batch-size");
  if (opt.repeats < 1) throw BadInput("--repeats: must be >= 1, got " + std::to_string(opt.repeats));
  if (opt.warmup < 0) throw BadInput("--warmup: must be >= 0, got " + std::to_string(opt.warmup));
  if (opt.iters < 1) throw BadInput("--iters: must be >= 1, got " + std::to_string(opt.iters));
  if (opt.lengths.max < 1) throw BadInput("--max-seqlen: must be >= 1, got " + std::to_string(opt.lengths.max));
  check_list(opt.max_seqlens, 1, 1 << 20, "--max-seqlen");
  if (opt.max_tokens < 0) throw BadInput("--max-tokens: must be >= 0, got " + std::to_string(opt.max_tokens));
  if (!(opt.lengths.avg >= 1)) throw BadInput("--avg-seqlen: must be >= 1");
  if (!(opt.lengths.stdev >= 0)) throw BadInput("--seqlen-stdev: must be >= 0");
  for (double f : opt.padding_fractions)
    if (!(f >= 0 && f < 1)) throw BadInput("--padding-fractions: " + std::to_string(f) + " is outside [0, 1)");
  if (opt.prompt_len < 1) throw BadInput("--prompt-len: must be >= 1, got " + std::to_string(opt.prompt_len));
  if (opt.gen < 0) throw BadInput("--gen: must be >= 0, got " + std::to_string(opt.gen));

  const ModelSpec spec = load_model_spec(opt.model);
  BenchTable t;
  t.suite = opt.suite;
  t.doc = {{"meta", bench_meta(opt, spec)}, {"points", json::array()}};
  if (opt.suite == "nested-vs-padded") {
    suite_nested_vs_padded(opt, spec, t);
  } else if (opt.suite == "streams") {
    check_list(opt.stream_counts, 1, 16, "--stream-counts");
    check_list(opt.depths, 1, 16, "--depths");
    suite_streams(opt, spec, t);
  } else if (opt.suite == "fusion") {
    suite_fusion(opt, spec, t);
  } else if (opt.suite == "encoder") {
    suite_encoder(opt, spec, t);
  } else {
    suite_throughput(opt, spec, opt.suite == "decode", t);
  }
  t.doc["meta"]["columns"] = t.columns;
  t.doc["meta"]["key_columns"] = t.key_columns;
  return t;
}

std::vector<std::string> write_bench(const BenchTable& t, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir)) throw BadInput("--out: cannot create the directory " + dir);
  const std::string csv = (std::filesystem::path(dir) / (t.suite + ".csv")).string();
  const std::string js = (std::filesystem::path(dir) / (t.suite + ".json")).string();
  write_csv(csv, t.columns, t.doc["points"]);
  write_json(js, t.doc);
  return {csv, js};
}

}  // namespace ferry::bench
