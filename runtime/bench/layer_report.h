// `ferry run --report`: after a run, one line per layer (its bytes, where it lived, how long the
// compute stream waited for it, how long it computed) and a one-line verdict (the achieved fraction
// of the bound and the resource that bound it). Derived from the run's Timeline and RunStats.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/engine.h"

namespace ferry::bench {

struct LayerReportRow {
  std::string layer;             // "static", "L0", "L1", ...
  int pack = 0;                  // 0 = static pack, block b = pack b + 1
  std::uint64_t bytes = 0;       // the pack's region (PackLayout::bytes(), what the budget counts)
  std::string lives;             // "resident" (kept for the whole run) or "streamed"
  double prefetch_wait_ms = 0;   // mean per step: compute begin - end of the compute stream's previous
                                 // interval, when positive (the wait for the layer's ready event)
  double compute_ms = 0;         // mean per step: the layer's compute interval
  int steps = 0;                 // steps averaged over (0 for the static pack)
};

struct LayerReport {
  std::vector<LayerReportRow> rows;
  std::string steps_kind;  // "decode" (steps >= 1) or "prefill" (no decode step ran)
  int steps = 0;           // steps averaged over
  std::string verdict;     // one line, see verdict_line()
  // CPU runs: each op's time in the prefill and in the decode steps (RunStats::prefill_ops /
  // decode_ops); empty on CUDA.
  std::vector<ops::OpTime> prefill_ops, decode_ops;
  int decode_steps = 0;
};

// `records` is the Timeline of the run (Engine::timeline()->records(), one generate() call).
LayerReport layer_report(const Engine& engine, const RunStats& stats, const std::vector<TimelineRecord>& records);

// "verdict: decode at 43% of the bound (12.3 ms/step measured, 5.30 ms/step bound), limited by the
// host->device link (1.20 GiB/s probed for um-prefetch)"; without a probe it says how to get one.
std::string verdict_line(const RunStats& stats, const Plan& plan);

std::string format_layer_report(const LayerReport& r);  // the table, the op shares and the verdict, text
// "per op (CPU): op | prefill ms | share | decode ms/step | share | calls/step", longest decode op
// first; "" when no op was timed.
std::string format_op_shares(const LayerReport& r);
nlohmann::json layer_report_json(const LayerReport& r);  // {"steps_kind", "steps", "layers": [...], "verdict"}

}  // namespace ferry::bench
