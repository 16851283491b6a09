// `ferry bench streams`, `ferry bench decode`, `ferry bench prefill`: Engine runs measured as
// experiment points (runtime/bench/measure.h) and reported against the probed bound.
//   streams:  1..8 streams x prefetch depths 1..4 at one --budget (decode tokens/s, step time)
//   decode:   decode tokens/s vs the bound's tokens/s (batch / bound step time), per batch size
//   prefill:  prefill tokens/s vs the bound's (prefill tokens/s / achieved fraction), per batch size
#include "base/error.h"
#include "base/progress.h"
#include "runtime/bench/measure.h"
#include "runtime/bench/suites.h"

namespace ferry::bench {

using nlohmann::json;

namespace {

json knob_row(const BenchOptions& opt, const EngineConfig& cfg, int batch, int gen) {
  return {{"model", opt.model},
          {"device", device_name(cfg.device)},
          {"policy", policy_name(cfg.policy)},
          {"budget", cfg.budget.set ? json(cfg.budget.str()) : json("none")},
          {"streams", cfg.streams},
          {"prefetch_depth", cfg.prefetch_depth},
          {"batch", batch},
          {"prompt_len", opt.prompt_len},
          {"gen", gen},
          {"repeats", opt.repeats},
          {"warmup", opt.warmup},
          {"error", nullptr}};
}

const std::vector<std::string> kKnobs = {"model", "device", "policy", "budget", "streams", "prefetch_depth", "batch",
                                         "prompt_len", "gen", "repeats", "warmup", "error"};

// Measures one point into `row` (its metrics, or an "error" when the budget or memory does not suffice).
void measure_into(json& row, const ModelSpec& spec, const PointSpec& ps) {
  for (const std::string& m : metric_columns()) row[m] = nullptr;
  try {
    const json m = measure_point(spec, ps);
    for (const auto& [k, v] : m.items()) row[k] = v;
  } catch (const ResourceExhausted& e) {
    row["error"] = e.what();
  }
}

PointSpec point_of(const BenchOptions& opt, const EngineConfig& cfg, int batch, int gen) {
  PointSpec ps;
  ps.engine = cfg;
  ps.batch = batch;
  ps.prompt_len = opt.prompt_len;
  ps.gen = gen;
  ps.warmup = opt.warmup;
  ps.repeats = opt.repeats;
  return ps;
}

void check_context(const BenchOptions& opt, const ModelSpec& spec, int gen) {
  if (opt.prompt_len + gen > spec.context_length)
    throw BadInput("--prompt-len " + std::to_string(opt.prompt_len) + " + --gen " + std::to_string(gen) +
                   " exceed the context length " + std::to_string(spec.context_length) + " of " + spec.name);
}

}  // namespace

void suite_streams(const BenchOptions& opt, const ModelSpec& spec, BenchTable& t) {
  if (!opt.engine.budget.set)
    throw BadInput("--budget: the streams suite runs at one fixed budget; give one (e.g. --budget 50%)");
  if (opt.gen < 2) throw BadInput("--gen: the streams suite measures decode steps; needs >= 2, got " + std::to_string(opt.gen));
  check_context(opt, spec, opt.gen);
  t.columns = kKnobs;
  for (const std::string& m : metric_columns()) t.columns.push_back(m);
  t.key_columns = {"policy", "budget", "batch", "streams", "prefetch_depth"};
  t.compare_metrics = {"decode_tokens_per_s", "step_ms", "bound_fraction", "link_bps"};
  t.table_columns = {"streams", "prefetch_depth", "plan_streams", "plan_depth", "decode_tokens_per_s", "step_ms",
                     "bound_step_ms", "bound_fraction", "link_bps", "limited_by", "error"};
  const int batch = opt.batch_sizes.front();
  Progress bar("bench streams", opt.stream_counts.size() * opt.depths.size(), opt.progress, "points");
  std::size_t done = 0;
  for (int streams : opt.stream_counts)
    for (int depth : opt.depths) {
      bar.set_label("bench streams (" + std::to_string(streams) + " streams, depth " + std::to_string(depth) + ")");
      EngineConfig cfg = opt.engine;
      cfg.streams = streams;
      cfg.prefetch_depth = depth;
      json row = knob_row(opt, cfg, batch, opt.gen);
      measure_into(row, spec, point_of(opt, cfg, batch, opt.gen));
      t.doc["points"].push_back(row);
      bar.set(++done);
    }
  bar.finish();
}

void suite_throughput(const BenchOptions& opt, const ModelSpec& spec, bool decode, BenchTable& t) {
  const int gen = decode ? opt.gen : 0;
  if (decode && gen < 2) throw BadInput("--gen: the decode suite measures decode steps; needs >= 2, got " + std::to_string(gen));
  check_context(opt, spec, gen);
  t.columns = kKnobs;
  for (const char* c : {"tokens_per_s", "tokens_per_s_min", "tokens_per_s_max", "bound_tokens_per_s", "fraction"})
    t.columns.push_back(c);
  for (const std::string& m : metric_columns()) t.columns.push_back(m);
  t.key_columns = {"policy", "budget", "streams", "prefetch_depth", "batch"};
  t.compare_metrics = {"tokens_per_s", "fraction"};
  t.table_columns = {"policy", "budget", "batch", "tokens_per_s", "bound_tokens_per_s", "fraction", "limited_by",
                     decode ? "step_ms" : "prefill_bound_fraction", "error"};
  Progress bar(std::string("bench ") + (decode ? "decode" : "prefill"), opt.batch_sizes.size(), opt.progress, "points");
  std::size_t done = 0;
  for (int batch : opt.batch_sizes) {
    bar.set_label(std::string("bench ") + (decode ? "decode" : "prefill") + " (batch " + std::to_string(batch) + ")");
    json row = knob_row(opt, opt.engine, batch, gen);
    measure_into(row, spec, point_of(opt, opt.engine, batch, gen));
    const char* tps = decode ? "decode_tokens_per_s" : "prefill_tokens_per_s";
    row["tokens_per_s"] = row[tps];
    row["tokens_per_s_min"] = row[std::string(tps) + "_min"];
    row["tokens_per_s_max"] = row[std::string(tps) + "_max"];
    if (decode) {
      row["bound_tokens_per_s"] = row["bound_decode_tokens_per_s"];
      row["fraction"] = row["bound_fraction"];
    } else {
      const json& f = row["prefill_bound_fraction"];
      const bool ok = f.is_number() && f.get<double>() > 0 && row[tps].is_number();
      row["bound_tokens_per_s"] = ok ? json(row[tps].get<double>() / f.get<double>()) : json(nullptr);
      row["fraction"] = f;
    }
    t.doc["points"].push_back(row);
    bar.set(++done);
  }
  bar.finish();
}

}  // namespace ferry::bench
