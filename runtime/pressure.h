// Memory-pressure experiments (`ferry pressure`): a grid of budgets x policies x prefetch depths x
// stream counts x batch sizes, each point a fresh Engine measured with warm-up and repeated runs
// (runtime/bench/measure.h). Results: DIR/results.csv and DIR/results.json ({"meta", "points",
// "timelines"}), one row per point; a budget the model cannot run under becomes a row with an
// "error". Column meanings per backend: docs/pressure.md.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/engine.h"

namespace ferry {

struct PressureOptions {
  std::string model;                  // preset, TOML file or Hugging Face directory (as for -m)
  std::vector<std::string> budgets;   // "100%", "35%", "2GiB": percentages of the model's weight bytes
  std::vector<std::string> policies;  // "um", "um-prefetch", "stream", "auto", "resident"
  std::vector<int> depths{1};         // prefetch depths
  std::vector<int> streams{2};        // stream counts (1 compute + n-1 copy)
  std::vector<int> batches{1};        // sequences per batch
  int prompt_len = 32;                // tokens per synthetic prompt
  int gen = 16;                       // tokens generated per sequence
  int repeats = 3;                    // measured runs per point
  int warmup = 1;                     // unmeasured runs per point
  EngineConfig engine;                // device, threads, layout, pack_dir, probe; the grid sets the rest
  std::string out_dir;                // created when missing
  bool reuse_checkpoint = false;      // export the model once to out_dir/checkpoint, load points from it
  bool progress = true;               // progress bar (unit "points") on stderr
  bool gpu_page_faults = false;       // CUDA: CUPTI Unified Memory counters (base/um_counters.h)
};

struct PressureResult {
  nlohmann::json doc;       // {"meta": {...}, "points": [rows], "timelines": {policy: {...}}}
  std::string csv_path;     // out_dir/results.csv
  std::string json_path;    // out_dir/results.json
  int points = 0;           // rows written
  int errors = 0;           // rows with an "error"
  int skipped = 0;          // grid combinations that resolve to the plan of an earlier row
  std::vector<std::string> notes;  // for the user (stderr): skipped duplicates, checkpoint reuse
};

// Every column of results.csv, in order: the knobs, "error", then bench::metric_columns().
const std::vector<std::string>& pressure_columns();
// The knob columns (the key of a row, used by --compare-like tools).
const std::vector<std::string>& pressure_knob_columns();

// Runs the grid and writes the files. Throws BadInput for bad options (naming the flag), for an
// unwritable out_dir, and for anything else that is the user's fault; a point whose budget or
// memory does not suffice (ResourceExhausted) is recorded as an error row instead.
PressureResult run_pressure(const PressureOptions& opt);

}  // namespace ferry
