// `ferry bench encoder`: the padding study of an encoder (BERT). For every maximum sequence length,
// batch size and padding fraction, one batch of drawn lengths (lengths_for_padding: one sequence at
// the maximum, the others around (1 - padding) x max with --seqlen-stdev) runs through two engines
// of the same model: the nested layout (packed rows, flash attention, no padding) and the padded
// layout (every sequence padded to the longest, unfused attention with a key mask: the baseline).
// The two runs alternate, repeat by repeat, so drift in the machine reaches both alike; each engine
// makes one unmeasured call on the first point's batch before any point (--warmup adds more per point).
//
// Peak activation memory is measured from outside ferry's own accounting:
//   CPU   the process's peak RSS (VmHWM, reset through /proc/self/clear_refs) during the call, less
//         its RSS just before it (after malloc_trim, so freed heap pages of the last call are gone);
//   CUDA  cudaMemGetInfo's used bytes at the end of the pass (every buffer of the pass still held),
//         less the used bytes just before the call.
// What ferry allocates by its own count (EncodeResult::activation_bytes) is kept beside it.
#include <malloc.h>

#include <algorithm>
#include <cstdio>

#include "base/error.h"
#include "base/sysinfo.h"
#include "models/family.h"
#include "runtime/bench/measure.h"
#include "runtime/bench/suites.h"
#include "runtime/prompts.h"

namespace ferry::bench {

using nlohmann::json;

namespace {

struct Point {
  int max_len = 0;
  int batch = 0;
  double target = 0;
  std::vector<int> lengths;
};

// One layout's engine and what its measured runs gave.
struct Side {
  std::unique_ptr<Engine> engine;
  std::vector<double> ms;
  std::uint64_t peak = 0;          // the largest of the measured runs
  bool peak_known = true;
  std::uint64_t counted = 0;
  std::vector<float> cls;          // each sequence's first-token hidden state, last run
};

std::vector<Point> grid(const BenchOptions& opt, json& skipped) {
  const std::vector<double> targets =
      opt.padding_fractions.empty() ? std::vector<double>{0, 0.1, 0.25, 0.5} : opt.padding_fractions;
  std::vector<Point> points;
  for (int len : opt.max_seqlens) {
    for (int batch : opt.batch_sizes) {
      for (double f : targets) {
        const long long tokens = static_cast<long long>(batch) * len;
        if (opt.max_tokens > 0 && tokens > opt.max_tokens) {
          skipped.push_back({{"max_seqlen", len}, {"batch_size", batch}, {"padding_target", f},
                             {"padded_tokens", tokens}, {"why", "batch x max_seqlen > --max-tokens"}});
          continue;
        }
        LengthDistribution d = opt.lengths;
        d.max = len;
        points.push_back({len, batch, f, lengths_for_padding(batch, f, d)});
      }
    }
  }
  return points;
}

EncodeRequest request_for(const Point& p, int vocab) {
  EncodeRequest req;
  req.prompts = synthetic_prompts(p.lengths, vocab);
  req.rows = first_token_rows(req.prompts);  // one row a sequence: the pass, not the copy-out, is measured
  return req;
}

// One measured call: its time, and its peak memory measured from outside. `meter` reads the device's
// memory (CUDA); null on the CPU.
void measure_once(Side& side, const EncodeRequest& req, const Backend* meter) {
  std::uint64_t before = 0;
  if (!meter) {
    malloc_trim(0);
    before = current_rss_bytes();
    side.peak_known = side.peak_known && before > 0 && reset_peak_rss();
  } else {
    const DeviceMemoryInfo m = meter->memory_info();
    before = m.total_bytes - m.free_bytes;
  }
  EncodeResult r = side.engine->encode(req);
  side.ms.push_back(r.stats.prefill_s * 1e3);
  const std::uint64_t during = meter ? r.stats.device_used_bytes : peak_rss_bytes();
  side.peak = std::max(side.peak, during > before ? during - before : 0);
  side.counted = r.activation_bytes;
  side.cls = std::move(r.values);
}

json peak_or_null(const Side& s) { return s.peak_known ? json(s.peak) : json(nullptr); }

json row_for(const Point& p, const Side& nested, const Side& padded, const BenchOptions& opt) {
  long long real = 0;
  for (int l : p.lengths) real += l;
  const int longest = *std::max_element(p.lengths.begin(), p.lengths.end());
  const Spread n = spread_of(nested.ms), d = spread_of(padded.ms);
  const bool mem = nested.peak_known && padded.peak_known && padded.peak > 0;
  const double ratio = mem ? static_cast<double>(nested.peak) / static_cast<double>(padded.peak) : 0;
  return {{"max_seqlen", p.max_len},
          {"batch_size", p.batch},
          {"padding_target", p.target},
          {"padding_fraction", padding_fraction(p.lengths)},
          {"real_tokens", real},
          {"padded_tokens", static_cast<long long>(p.batch) * longest},
          {"nested_ms", n.median},
          {"nested_ms_min", n.min},
          {"nested_ms_max", n.max},
          {"padded_ms", d.median},
          {"padded_ms_min", d.min},
          {"padded_ms_max", d.max},
          {"speedup", n.median > 0 ? json(d.median / n.median) : json(nullptr)},
          {"nested_tokens_per_s", n.median > 0 ? json(static_cast<double>(real) * 1e3 / n.median) : json(nullptr)},
          {"padded_tokens_per_s", d.median > 0 ? json(static_cast<double>(real) * 1e3 / d.median) : json(nullptr)},
          {"nested_peak_bytes", peak_or_null(nested)},
          {"padded_peak_bytes", peak_or_null(padded)},
          {"memory_ratio", mem ? json(ratio) : json(nullptr)},
          {"memory_saved_pct", mem ? json(100.0 * (1.0 - ratio)) : json(nullptr)},
          {"memory_source", opt.engine.device == DeviceKind::CPU ? "rss" : "cudaMemGetInfo"},
          {"nested_counted_bytes", nested.counted},
          {"padded_counted_bytes", padded.counted},
          {"cls_max_abs_diff", max_abs_diff(nested.cls, padded.cls)},
          {"repeats", opt.repeats},
          {"warmup", opt.warmup},
          {"seed", opt.lengths.seed},
          {"lengths", p.lengths}};  // JSON only: the batch, for a peer to run the same one
}

void set_columns(BenchTable& t) {
  t.columns = {"max_seqlen", "batch_size", "padding_target", "padding_fraction", "real_tokens", "padded_tokens",
               "nested_ms", "nested_ms_min", "nested_ms_max", "padded_ms", "padded_ms_min", "padded_ms_max",
               "speedup", "nested_tokens_per_s", "padded_tokens_per_s", "nested_peak_bytes", "padded_peak_bytes",
               "memory_ratio", "memory_saved_pct", "memory_source", "nested_counted_bytes", "padded_counted_bytes",
               "cls_max_abs_diff", "repeats", "warmup", "seed"};
  t.key_columns = {"max_seqlen", "batch_size", "padding_target"};
  t.compare_metrics = {"nested_ms", "padded_ms", "speedup", "memory_ratio"};
  t.table_columns = {"max_seqlen", "batch_size", "padding_fraction", "real_tokens", "nested_ms", "padded_ms",
                     "speedup", "nested_peak_bytes", "padded_peak_bytes", "memory_saved_pct", "cls_max_abs_diff"};
}

Side open_side(const ModelSpec& spec, const BenchOptions& opt, Layout layout) {
  EngineConfig cfg = opt.engine;
  cfg.layout = layout;
  cfg.progress = false;
  Side s;
  s.engine = std::make_unique<Engine>(spec, cfg);
  return s;
}

}  // namespace

void suite_encoder(const BenchOptions& opt, const ModelSpec& spec, BenchTable& t) {
  if (model_family(spec).causal())
    throw BadInput("ferry bench encoder: " + spec.name + " is a decoder (family " + model_family(spec).name() +
                   "); give an encoder, e.g. -m bert-base");
  for (int len : opt.max_seqlens)
    if (len > spec.context_length)
      throw BadInput("--max-seqlen " + std::to_string(len) + " exceeds the " + std::to_string(spec.context_length) +
                     " positions of " + spec.name);
  set_columns(t);
  json skipped = json::array();
  const std::vector<Point> points = grid(opt, skipped);
  t.doc["meta"]["skipped_points"] = skipped;
  t.doc["meta"]["memory_method"] =
      opt.engine.device == DeviceKind::CPU
          ? "peak RSS (VmHWM after /proc/self/clear_refs) during the call less RSS before it, after malloc_trim"
          : "cudaMemGetInfo used bytes at the end of the pass less those before the call";
  Side nested = open_side(spec, opt, Layout::Nested);
  Side padded = open_side(spec, opt, Layout::Padded);
  const EngineConfig& e = opt.engine;
  const std::unique_ptr<Backend> meter =
      e.device == DeviceKind::CPU ? nullptr : make_backend(e.device, e.device_index, e.threads);
  if (!points.empty()) {  // first calls start thread pools and BLAS buffers: kept out of every point
    const EncodeRequest first = request_for(points.front(), spec.vocab_size);
    nested.engine->encode(first);
    padded.engine->encode(first);
  }
  for (std::size_t i = 0; i < points.size(); ++i) {
    const Point& p = points[i];
    const EncodeRequest req = request_for(p, spec.vocab_size);
    for (Side* s : {&nested, &padded}) {
      s->ms.clear();
      s->peak = 0;
      for (int w = 0; w < opt.warmup; ++w) s->engine->encode(req);
    }
    for (int r = 0; r < opt.repeats; ++r)
      for (Side* s : {&nested, &padded}) measure_once(*s, req, meter.get());
    const json row = row_for(p, nested, padded, opt);
    if (opt.progress)
      std::fprintf(stderr, "bench encoder %zu/%zu: max_seqlen %d, batch %d, padding %.2f: nested %.1f ms, padded %.1f ms (%.2fx)\n",
                   i + 1, points.size(), p.max_len, p.batch, row["padding_fraction"].get<double>(),
                   row["nested_ms"].get<double>(), row["padded_ms"].get<double>(),
                   row["speedup"].is_number() ? row["speedup"].get<double>() : 0.0);
    t.doc["points"].push_back(row);
  }
}

}  // namespace ferry::bench
