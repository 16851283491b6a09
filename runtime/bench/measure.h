// Measuring one experiment point (`ferry pressure`, `ferry bench`): a fresh Engine, warm-up runs,
// then measured runs of a synthetic batch, summarised as median and spread (min / max), with the
// memory and page-fault figures of each backend. A point's figures are one flat JSON object (its
// row in results.csv / results.json); every column is always present, null where not measured.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/engine.h"

namespace ferry::bench {

// `batch` prompts of `len` tokens: deterministic ids spread over the vocabulary (sequence b, token
// t -> (1 + 7919 b + 104729 t) mod vocab), so every run of every point sees the same batch.
std::vector<std::vector<std::int32_t>> synthetic_prompts(int batch, int len, int vocab);
// The same ids for sequences of the given lengths.
std::vector<std::vector<std::int32_t>> synthetic_prompts(const std::vector<int>& lengths, int vocab);

// Median, min and max of a sample (all 0 for an empty one: check the count first).
struct Spread {
  double median = 0, min = 0, max = 0;
  std::size_t count = 0;
};
Spread spread_of(std::vector<double> v);

// max |a[i] - b[i]| in double, a check that two variants computed the same thing: NaN when any
// difference is NaN, infinity when the sizes differ.
double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b);

// Resets this process's peak RSS (VmHWM) to its current RSS by writing "5" to /proc/self/clear_refs
// (Linux >= 4.0). False when that is not possible; the peak is then the process's since it started.
bool reset_peak_rss();

// The options of the quick probe `ferry run` takes without --probe: memory figures over 4 x the
// last-level cache (at least 64 MiB, at most 1 GiB), file figures over 64 MiB, 3 repeats.
ProbeOptions quick_probe_options(const std::string& scratch_dir);

// The bandwidths a grid is reported against: `probe_file` (saved by `ferry probe`) when given, else
// a quick probe measured now (quick_probe_options, as `ferry run` does without --probe). The device
// of a probe file must match `device` (BadInput otherwise).
ProbeResult acquire_probe(const std::string& probe_file, DeviceKind device, int device_index, int threads,
                          const std::string& scratch_dir);

// One experiment point.
struct PointSpec {
  EngineConfig engine;   // device, policy, budget, depth, streams, probe, ...; progress is forced off
  int batch = 1;         // sequences
  int prompt_len = 32;   // tokens per prompt
  int gen = 16;          // tokens generated per sequence (gen - 1 decode steps)
  int warmup = 1;        // unmeasured runs first
  int repeats = 3;       // measured runs
  bool keep_timeline = false;  // keep one decode step's Timeline of the last measured run
};

// Measures one point. Throws what the Engine throws (ResourceExhausted for a budget below one
// layer or out of memory, BadInput for a prompt that does not fit the context).
// Returns the point's figures as a flat JSON object with every key of point_columns() except the
// knobs (the caller adds those) and, when keep_timeline, "timeline": timeline_json(...).
nlohmann::json measure_point(const ModelSpec& spec, const PointSpec& p);

// The metric columns measure_point fills, in CSV order (spreads as NAME, NAME_min, NAME_max).
const std::vector<std::string>& metric_columns();

// The records of step `step` of a run, with times relative to the step's first begin:
// {"step", "records": [{"kind", "name", "pack", "layer", "stream", "lane", "begin_us", "end_us"}]}.
// layer = pack - 1 (-1 for the static pack / not a pack); lane = "compute", "copy 1", ...
nlohmann::json timeline_json(const std::vector<TimelineRecord>& records, int step);

// Lane name of a stream id, as in the Chrome trace: 0 "compute", n > 0 "copy n".
std::string lane_name(int stream);

}  // namespace ferry::bench
