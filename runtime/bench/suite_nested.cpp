// `ferry bench nested-vs-padded`: the prefill of one batch of drawn lengths in the nested layout
// (packed rows, no padding) and in the padded layout (every sequence padded to the longest), over
// batch sizes and padding fractions. Latency and tokens/s are measured; the activation memory is
// the workspace each layout needs (the family's workspace_bytes for its row count: what the Engine
// allocates for the activations of a pass).
#include <map>

#include "base/error.h"
#include "base/progress.h"
#include "models/family.h"
#include "runtime/bench/measure.h"
#include "runtime/bench/suites.h"

namespace ferry::bench {

using nlohmann::json;

namespace {

struct Config {
  int batch = 1;
  json target;  // padding target or null
  std::vector<int> lengths;
};

}  // namespace

void suite_nested_vs_padded(const BenchOptions& opt, const ModelSpec& spec, BenchTable& t) {
  if (opt.lengths.max > spec.context_length)
    throw BadInput("--max-seqlen " + std::to_string(opt.lengths.max) + " exceeds the context length " +
                   std::to_string(spec.context_length) + " of " + spec.name);
  t.columns = {"batch_size", "padding_target", "layout", "max_len", "real_tokens", "computed_tokens",
               "padding_fraction", "latency_ms", "latency_ms_min", "latency_ms_max", "tokens_per_s",
               "computed_tokens_per_s", "workspace_bytes", "speedup_vs_padded", "plan", "repeats", "warmup", "seed"};
  t.key_columns = {"batch_size", "padding_target", "layout"};
  t.compare_metrics = {"latency_ms", "tokens_per_s", "workspace_bytes"};
  t.table_columns = {"batch_size", "padding_target", "layout", "padding_fraction", "real_tokens", "computed_tokens",
                     "latency_ms", "tokens_per_s", "workspace_bytes", "speedup_vs_padded"};

  std::vector<Config> configs;
  for (int batch : opt.batch_sizes) {
    if (opt.padding_fractions.empty()) {
      configs.push_back({batch, nullptr, draw_lengths(batch, opt.lengths)});
    } else {
      for (double f : opt.padding_fractions) configs.push_back({batch, f, lengths_for_padding(batch, f, opt.lengths)});
    }
  }

  // latency[layout][config] (median, min, max) in ms
  std::map<Layout, std::vector<Spread>> latency;
  std::map<Layout, Plan> plans;  // where the weights lived (a model larger than RAM streams)
  Progress bar("bench nested-vs-padded", configs.size() * 2, opt.progress, "points");
  std::size_t done = 0;
  for (Layout layout : {Layout::Nested, Layout::Padded}) {
    EngineConfig cfg = opt.engine;
    cfg.layout = layout;
    cfg.progress = false;
    Engine engine(spec, cfg);
    plans[layout] = engine.plan();
    for (const Config& c : configs) {
      bar.set_label(std::string("bench nested-vs-padded (") + layout_name(layout) + ", batch " + std::to_string(c.batch) + ")");
      GenerateRequest req;
      req.prompts = synthetic_prompts(c.lengths, spec.vocab_size);
      req.max_new_tokens = 0;
      for (int i = 0; i < opt.warmup; ++i) engine.generate(req);
      std::vector<double> ms;
      for (int i = 0; i < opt.repeats; ++i) ms.push_back(engine.generate(req).stats.prefill_s * 1e3);
      latency[layout].push_back(spread_of(ms));
      bar.set(++done);
    }
  }
  bar.finish();

  for (std::size_t i = 0; i < configs.size(); ++i) {
    const Config& c = configs[i];
    int longest = 0;
    long long real = 0;
    for (int l : c.lengths) {
      longest = std::max(longest, l);
      real += l;
    }
    for (Layout layout : {Layout::Nested, Layout::Padded}) {
      const Spread s = latency[layout][i];
      const long long rows = layout == Layout::Nested ? real : static_cast<long long>(c.batch) * longest;
      const double padded_ms = latency[Layout::Padded][i].median;
      json row = {{"batch_size", c.batch},
                  {"padding_target", c.target},
                  {"layout", layout_name(layout)},
                  {"max_len", longest},
                  {"real_tokens", real},
                  {"computed_tokens", rows},
                  {"padding_fraction", padding_fraction(c.lengths)},
                  {"latency_ms", s.median},
                  {"latency_ms_min", s.min},
                  {"latency_ms_max", s.max},
                  {"tokens_per_s", s.median > 0 ? json(static_cast<double>(real) * 1e3 / s.median) : json(nullptr)},
                  {"computed_tokens_per_s", s.median > 0 ? json(static_cast<double>(rows) * 1e3 / s.median) : json(nullptr)},
                  {"workspace_bytes", model_family(spec).workspace_bytes(spec, static_cast<int>(rows))},
                  {"speedup_vs_padded", s.median > 0 ? json(padded_ms / s.median) : json(nullptr)},
                  {"plan", plans[layout].summary()},
                  {"plan_notes", plans[layout].notes},  // JSON only
                  {"repeats", opt.repeats},
                  {"warmup", opt.warmup},
                  {"seed", opt.lengths.seed}};
      t.doc["points"].push_back(row);
    }
  }
}

}  // namespace ferry::bench
