// `ferry bench SUITE`: focused benchmarks (runtime/bench/suites.h); CSV + JSON to --out, a table on
// stdout, and with --compare OLD.json the ratio of each row to the matching row of an earlier run.
#include <cstdio>
#include <memory>

#include "base/error.h"
#include "runtime/bench/measure.h"
#include "runtime/bench/suites.h"
#include "runtime/bench/table.h"
#include "tools/cli_common.h"

namespace ferry::cli {
namespace {

struct BenchFlags {
  std::string suite;
  std::string model = "gpt2";
  std::string out;
  std::string compare;
  double avg_seqlen = 64;
  std::vector<int> max_seqlens{128};
  long long max_tokens = 0;
  double seqlen_stdev = 32;
  std::uint64_t seed = 0;
  std::vector<int> batch_sizes{8};
  std::vector<double> padding_fractions;
  std::vector<int> stream_counts{1, 2, 3, 4, 5, 6, 7, 8};
  std::vector<int> depths{1, 2, 3, 4};
  int prompt_len = 32;
  int gen = 16;
  int repeats = 3;
  int warmup = 1;
  int iters = 10;
  std::string probe;
  bool no_probe = false;
  EngineFlags engine;
  GivenFlags given;  // the flags on the command line
};

void bench(const BenchFlags& f) {
  if (!f.probe.empty() && f.no_probe) throw BadInput("--probe and --no-probe: give one, not both");
  bench::check_suite_flags(f.suite, f.given, f.batch_sizes.size(), f.max_seqlens.size());  // before any measurement
  bench::BenchOptions opt;
  opt.suite = f.suite;
  opt.model = f.model;
  opt.engine = to_engine_config(f.engine, f.given);
  opt.lengths.avg = f.avg_seqlen;
  opt.lengths.max = f.max_seqlens.empty() ? 0 : f.max_seqlens[0];
  opt.max_seqlens = f.max_seqlens;
  opt.max_tokens = f.max_tokens;
  opt.lengths.stdev = f.seqlen_stdev;
  opt.lengths.seed = f.seed;
  opt.batch_sizes = f.batch_sizes;
  opt.padding_fractions = f.padding_fractions;
  opt.stream_counts = f.stream_counts;
  opt.depths = f.depths;
  opt.prompt_len = f.prompt_len;
  opt.gen = f.gen;
  opt.repeats = f.repeats;
  opt.warmup = f.warmup;
  opt.iters = f.iters;
  opt.progress = !f.engine.quiet;
  // The suites reported against the bound need bandwidths (the others reject --probe above).
  const bool bound_suite = f.suite == "streams" || f.suite == "decode" || f.suite == "prefill";
  if (!f.no_probe && bound_suite)
    opt.engine.probe = bench::acquire_probe(f.probe, opt.engine.device, opt.engine.device_index, opt.engine.threads,
                                            opt.engine.pack_dir);
  nlohmann::json old;
  if (!f.compare.empty()) {  // read first: a bad file fails before the benchmark runs
    old = bench::read_json(f.compare);
    const std::string old_suite = old.contains("meta") && old["meta"].contains("suite") && old["meta"]["suite"].is_string()
                                      ? old["meta"]["suite"].get<std::string>()
                                      : "";
    if (old_suite != f.suite)
      throw BadInput("--compare: " + f.compare + " holds results of suite '" + old_suite + "', not '" + f.suite + "'");
  }

  const bench::BenchTable t = bench::run_bench(opt);
  const std::vector<std::string> files = bench::write_bench(t, f.out);
  std::printf("%s", bench::format_table(t.table_columns, t.doc["points"]).c_str());
  std::printf("%zu rows -> %s, %s\n", t.doc["points"].size(), files[0].c_str(), files[1].c_str());
  if (!f.compare.empty()) {
    const nlohmann::json cmp = bench::compare_rows(old, t.doc, t.key_columns, t.compare_metrics);
    std::printf("\ncompared with %s (ratio = this run / that run; %d rows matched, %d new):\n%s", f.compare.c_str(),
                cmp["matched"].get<int>(), cmp["unmatched"].get<int>(),
                bench::format_comparison(cmp, t.key_columns, t.compare_metrics).c_str());
  }
}

}  // namespace

void register_bench(CLI::App& app) {
  auto f = std::make_shared<BenchFlags>();
  std::string suites;
  for (const std::string& n : bench::bench_suite_names()) suites += (suites.empty() ? "" : ", ") + n;
  CLI::App* sub = app.add_subcommand(
      "bench",
      "Focused benchmarks; each writes DIR/<suite>.csv and DIR/<suite>.json and prints a table.\n"
      "  nested-vs-padded  prefill latency, tokens/s and activation bytes, nested vs padded layout,\n"
      "                    over --batch-size and --padding-fractions of lengths drawn with --avg-seqlen,\n"
      "                    --seqlen-stdev, --max-seqlen, --seed\n"
      "  streams           decode with --stream-counts x --depths at one --budget\n"
      "  fusion            fused vs unfused ops and one whole layer, timed on --device\n"
      "  decode, prefill   tokens/s against the probed bound for -m and --policy/--budget\n"
      "  encoder           the padding study of an encoder (-m bert-base): nested flash attention vs padded\n"
      "                    attention with a mask, over --max-seqlen x --batch-size x --padding-fractions\n"
      "                    (default 0,0.1,0.25,0.5): latency, speedup, peak memory (RSS / cudaMemGetInfo)\n"
      "A flag the chosen suite does not read is an error naming the flag and the suites that read it.\n"
      "Example: ferry bench fusion -m gpt2 --batch-size 8 --out results/fusion --compare old/fusion.json\n"
      "         ferry bench encoder -m bert-base --max-seqlen 128,256 --batch-size 4,8,16 --out results/enc");
  sub->add_option("suite", f->suite, "One of: " + suites)->required();
  sub->add_option("-m,--model", f->model, "Preset name, TOML file or Hugging Face directory")->capture_default_str();
  sub->add_option("-o,--out", f->out, "Output directory (created)")->required();
  sub->add_option("--compare", f->compare, "An earlier run's <suite>.json: print this run's ratio to each matching row");
  sub->add_option("--avg-seqlen", f->avg_seqlen, "Mean sequence length of the drawn batches")->capture_default_str();
  sub->add_option("--max-seqlen", f->max_seqlens,
                  "Longest sequence (lengths are clipped to [1, max]); encoder: a comma-separated list")
      ->delimiter(',')
      ->capture_default_str();
  sub->add_option("--max-tokens", f->max_tokens,
                  "encoder: skip the points whose padded batch (batch x max-seqlen) holds more tokens\n"
                  "(they are listed in the JSON's meta.skipped_points); 0: run every point")
      ->capture_default_str();
  sub->add_option("--seqlen-stdev", f->seqlen_stdev, "Standard deviation of the drawn lengths")->capture_default_str();
  sub->add_option("--seed", f->seed, "Seed of the drawn lengths")->capture_default_str();
  sub->add_option("--batch-size", f->batch_sizes, "Batch sizes, comma-separated")->delimiter(',')->capture_default_str();
  sub->add_option("--padding-fractions", f->padding_fractions,
                  "nested-vs-padded, encoder: padding fractions to draw batches for, comma-separated (e.g. 0,0.25,0.5);\n"
                  "default: the batches as drawn (encoder: 0,0.1,0.25,0.5)")
      ->delimiter(',');
  sub->add_option("--stream-counts", f->stream_counts, "streams: stream counts, comma-separated")
      ->delimiter(',')
      ->capture_default_str();
  sub->add_option("--depths", f->depths, "streams: prefetch depths, comma-separated")->delimiter(',')->capture_default_str();
  sub->add_option("--prompt-len", f->prompt_len, "streams, decode, prefill: tokens per synthetic prompt")
      ->capture_default_str();
  sub->add_option("--gen", f->gen, "streams, decode: tokens generated per sequence")->capture_default_str();
  sub->add_option("--repeats", f->repeats, "Measured runs per row (median, min and max)")->capture_default_str();
  sub->add_option("--warmup", f->warmup, "Unmeasured runs before the measured ones")->capture_default_str();
  sub->add_option("--iters", f->iters, "fusion: op calls per timed measurement")->capture_default_str();
  sub->add_option("--probe", f->probe, "streams, decode, prefill: bandwidths saved by `ferry probe` (default: a quick probe now)");
  sub->add_flag("--no-probe", f->no_probe, "streams, decode, prefill: measure no bandwidths; the bound columns stay empty");
  add_engine_flags(*sub, f->engine);
  sub->callback([f, sub] {
    f->given = given_flags(*sub);
    bench(*f);
  });
}

}  // namespace ferry::cli
