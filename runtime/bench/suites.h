// `ferry bench SUITE`: focused benchmarks, each a table of rows written as CSV + JSON
// (DIR/<suite>.csv, DIR/<suite>.json {"meta", "points"}), printed, and comparable with an earlier
// run's JSON (--compare). Suites:
//   nested-vs-padded  prefill of a batch of drawn lengths, nested vs padded layout: latency,
//                     tokens/s, activation workspace bytes; over batch sizes and padding fractions
//   streams           decode with 1..8 streams x prefetch depths 1..4 at one --budget
//   fusion            fused vs unfused ops (add_layernorm vs add + layernorm, linear with GELU
//                     epilogue vs linear + activation, flash vs unfused attention) and a whole layer
//   decode, prefill   tokens/s against the probed bound, for a model and policy, over batch sizes
//   encoder           the padding study of an encoder: nested flash vs padded masked attention over
//                     max sequence lengths x batch sizes x padding fractions: latency, peak memory
#pragma once
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/bench/lengths.h"
#include "runtime/engine.h"

namespace ferry::bench {

struct BenchOptions {
  std::string suite;
  std::string model = "gpt2";
  EngineConfig engine;                 // device, threads, policy, budget, depth, streams, pack_dir, probe
  LengthDistribution lengths;          // --avg-seqlen, --seqlen-stdev, --max-seqlen (the first), --seed
  std::vector<int> max_seqlens{128};   // --max-seqlen (a list for the encoder suite, one value otherwise)
  long long max_tokens = 0;            // encoder: skip points with batch x max_seqlen above it (0: none)
  std::vector<int> batch_sizes{8};     // --batch-size (a list)
  std::vector<double> padding_fractions;  // nested-vs-padded: targets; empty = the distribution as given
  std::vector<int> stream_counts{1, 2, 3, 4, 5, 6, 7, 8};  // streams suite
  std::vector<int> depths{1, 2, 3, 4};                     // streams suite
  int prompt_len = 32;                 // streams, decode, prefill
  int gen = 16;                        // streams, decode
  int repeats = 3;
  int warmup = 1;
  int iters = 10;                      // fusion: op calls per timed repeat
  bool progress = true;
};

struct BenchTable {
  std::string suite;
  std::vector<std::string> columns;          // CSV order (every key of every row)
  std::vector<std::string> key_columns;      // what identifies a row across runs (--compare)
  std::vector<std::string> compare_metrics;  // the ratios --compare prints
  std::vector<std::string> table_columns;    // what the printed table shows
  nlohmann::json doc;                        // {"meta": {...}, "points": [rows]}
};

const std::vector<std::string>& bench_suite_names();  // in the order of the help text

// A flag of `ferry bench` that `suite` does not read would be silently ignored: BadInput naming the
// flag, the suite and the suites that do read it. `given`: the long names ("--iters") of the flags
// on the command line. Also BadInput for an unknown suite, and for more than one --batch-size
// where the suite runs one. Every flag of `ferry bench` must be in the table (InternalError).
// Also BadInput for more than one --max-seqlen where the suite is not encoder.
void check_suite_flags(const std::string& suite, const std::set<std::string>& given, std::size_t batch_sizes,
                       std::size_t max_seqlens = 1);

// Runs one suite. BadInput for an unknown suite name or bad options (naming the flag).
BenchTable run_bench(const BenchOptions& opt);

// Writes DIR/<suite>.csv and DIR/<suite>.json (creating DIR); returns the two paths.
std::vector<std::string> write_bench(const BenchTable& t, const std::string& dir);

// The common meta of a results file: tool, suite, commit, time, machine, model, knobs.
nlohmann::json bench_meta(const BenchOptions& opt, const ModelSpec& spec);

// Suite bodies (runtime/bench/suite_*.cpp); each fills table.columns ... table.doc["points"].
void suite_nested_vs_padded(const BenchOptions& opt, const ModelSpec& spec, BenchTable& t);
void suite_streams(const BenchOptions& opt, const ModelSpec& spec, BenchTable& t);
void suite_fusion(const BenchOptions& opt, const ModelSpec& spec, BenchTable& t);
void suite_encoder(const BenchOptions& opt, const ModelSpec& spec, BenchTable& t);
void suite_throughput(const BenchOptions& opt, const ModelSpec& spec, bool decode, BenchTable& t);

}  // namespace ferry::bench
