#include "runtime/pressure.h"

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <map>
#include <new>

#include "base/error.h"
#include "base/sysinfo.h"
#include "base/progress.h"
#include "base/um_counters.h"
#include "runtime/run_plan.h"
#include "base/units.h"
#include "models/export.h"
#include "models/weights.h"
#include "runtime/bench/measure.h"
#include "runtime/bench/table.h"
#include "runtime/report.h"

namespace ferry {

using nlohmann::json;

const std::vector<std::string>& pressure_knob_columns() {
  static const std::vector<std::string> cols = {"point",  "model", "device",     "policy", "budget",
                                                "prefetch_depth", "streams", "batch", "prompt_len", "gen",
                                                "warmup", "repeats", "threads", "layout"};
  return cols;
}

const std::vector<std::string>& pressure_columns() {
  static const std::vector<std::string> cols = [] {
    std::vector<std::string> c = pressure_knob_columns();
    c.push_back("error");
    for (const std::string& m : bench::metric_columns()) c.push_back(m);
    return c;
  }();
  return cols;
}

namespace {

struct Point {
  std::string budget_label;
  BudgetSpec budget;
  Policy policy = Policy::Auto;
  int depth = 1, streams = 2, batch = 1;
  std::string plan_error;  // the planner refused the budget (the Engine will refuse it too)
  std::uint64_t budget_bytes = 0;
  bool keep_timeline = false;
};

void require_list(bool ok, const char* flag) {
  if (!ok) throw BadInput(std::string(flag) + ": the list is empty");
}

void check_range(const std::vector<int>& v, int lo, int hi, const char* flag) {
  require_list(!v.empty(), flag);
  for (int x : v)
    if (x < lo || x > hi)
      throw BadInput(std::string(flag) + ": " + std::to_string(x) + " is outside [" + std::to_string(lo) + ", " +
                     std::to_string(hi) + "]");
}

json model_json(const ModelSpec& s, std::uint64_t model_bytes) {
  return {{"name", s.name},          {"source", s.source},         {"parameters", s.parameter_count()},
          {"layers", s.num_layers},  {"hidden", s.hidden_size},    {"heads", s.num_heads},
          {"vocab", s.vocab_size},   {"context", s.context_length}, {"dtype", dtype_name(s.dtype)},
          {"weight_bytes", model_bytes}};
}

json write_results(json meta, const json& rows, const json& timelines, const PressureResult& r) {
  meta["notes"] = r.notes;
  json doc = {{"meta", std::move(meta)}, {"points", rows}, {"timelines", timelines}};
  bench::write_json(r.json_path, doc);
  bench::write_csv(r.csv_path, pressure_columns(), doc["points"]);
  return doc;
}

}  // namespace

PressureResult run_pressure(const PressureOptions& opt) {
  require_list(!opt.budgets.empty(), "--budgets");
  require_list(!opt.policies.empty(), "--policies");
  check_range(opt.depths, 1, 16, "--prefetch-depths");
  check_range(opt.streams, 1, 16, "--streams");
  check_range(opt.batches, 1, 1 << 20, "--batch");
  if (opt.prompt_len < 1) throw BadInput("--prompt-len: must be >= 1, got " + std::to_string(opt.prompt_len));
  if (opt.gen < 0) throw BadInput("--gen: must be >= 0, got " + std::to_string(opt.gen));
  if (opt.repeats < 1) throw BadInput("--repeats: must be >= 1, got " + std::to_string(opt.repeats));
  if (opt.warmup < 0) throw BadInput("--warmup: must be >= 0, got " + std::to_string(opt.warmup));
  if (opt.out_dir.empty()) throw BadInput("--out: a directory is required");
  std::vector<BudgetSpec> budgets;
  for (const std::string& b : opt.budgets) {
    budgets.push_back(parse_budget(b, "--budgets"));
    if (!budgets.back().set) throw BadInput("--budgets: empty budget in the list");
  }
  std::vector<Policy> policies;
  for (const std::string& p : opt.policies) policies.push_back(parse_policy(p, "--policies"));

  ModelSpec spec = load_model_spec(opt.model);
  if (opt.prompt_len + opt.gen > spec.context_length)
    throw BadInput("--prompt-len " + std::to_string(opt.prompt_len) + " + --gen " + std::to_string(opt.gen) +
                   " exceed the context length " + std::to_string(spec.context_length) + " of " + spec.name);

  PressureResult result;
  std::error_code ec;
  std::filesystem::create_directories(opt.out_dir, ec);
  if (ec || !std::filesystem::is_directory(opt.out_dir))
    throw BadInput("--out: cannot create the directory " + opt.out_dir);
  result.csv_path = (std::filesystem::path(opt.out_dir) / "results.csv").string();
  result.json_path = (std::filesystem::path(opt.out_dir) / "results.json").string();
  // Before any engine: CUPTI counts Unified Memory only when enabled ahead of the managed allocations.
  if (opt.gpu_page_faults) {
    if (opt.engine.device != DeviceKind::CUDA)
      throw BadInput("--gpu-page-faults: counts the GPU's faults on managed memory, so it needs --device cuda "
                     "(the CPU's page faults are always in minor_faults and major_faults)");
    if (const std::string why = enable_um_counters(opt.engine.device_index); !why.empty())
      result.notes.push_back("--gpu-page-faults: GPU page faults are not counted: " + why);
  }

  // Every point loads the weights; a checkpoint on disk makes that a read instead of a random init.
  ModelSpec run_spec = spec;
  std::string checkpoint;
  if (opt.reuse_checkpoint) {
    if (spec.weights.random) {
      checkpoint = (std::filesystem::path(opt.out_dir) / "checkpoint").string();
      std::unique_ptr<WeightSource> src = make_weight_source(spec);
      export_hf(spec, *src, checkpoint, opt.progress);
      run_spec = load_model_spec(checkpoint);
      run_spec.name = spec.name;
      result.notes.push_back("exported " + spec.name + " once to " + checkpoint + "; every point loads it");
    } else {
      checkpoint = spec.weights.path;
      result.notes.push_back("--reuse-checkpoint: " + spec.name + " is already a checkpoint (" + checkpoint +
                             "); every point loads it");
    }
  }

  const std::vector<std::uint64_t> pack_bytes = model_pack_bytes(run_spec, opt.engine.weights);
  const MachineMemory mem = machine_memory(*make_backend(opt.engine.device, opt.engine.device_index, opt.engine.threads));
  std::uint64_t model_bytes = 0;
  for (std::uint64_t b : pack_bytes) model_bytes += b;

  // The grid, in the order given. Combinations that resolve to the plan of an earlier point (um
  // ignores depth and streams; a budget the model fits in keeps everything) are skipped.
  std::vector<Point> points;
  std::map<std::string, std::size_t> seen;
  json skipped = json::array();
  for (std::size_t bi = 0; bi < budgets.size(); ++bi)
    for (Policy pol : policies)
      for (int depth : opt.depths)
        for (int streams : opt.streams)
          for (int batch : opt.batches) {
            Point p;
            p.budget_label = opt.budgets[bi];
            p.budget = budgets[bi];
            p.policy = pol;
            p.depth = depth;
            p.streams = streams;
            p.batch = batch;
            p.budget_bytes = budgets[bi].resolve(model_bytes);
            EngineConfig point_cfg = opt.engine;
            point_cfg.policy = pol;
            point_cfg.budget = budgets[bi];
            point_cfg.prefetch_depth = depth;
            point_cfg.streams = streams;
            std::string key = p.budget_label + "|" + policy_name(pol) + "|" + std::to_string(batch) + "|";
            try {
              // The plan the point's Engine will make (runtime/run_plan.h), to skip duplicates.
              const Plan plan = plan_run(run_spec, point_cfg, mem).plan;
              key += std::string(policy_name(plan.policy)) + "/" + std::to_string(plan.depth) + "/" +
                     std::to_string(plan.streams) + "/" + std::to_string(plan.slots) + "/" +
                     std::to_string(plan.resident_layers);
            } catch (const ResourceExhausted& e) {
              p.plan_error = e.what();
              key += "error";
            }
            if (const auto it = seen.find(key); it != seen.end()) {
              skipped.push_back({{"policy", policy_name(pol)}, {"budget", p.budget_label}, {"prefetch_depth", depth},
                                 {"streams", streams}, {"batch", batch}, {"same_plan_as_point", it->second}});
              continue;
            }
            seen[key] = points.size();
            points.push_back(p);
          }
  result.skipped = static_cast<int>(skipped.size());
  if (result.skipped > 0)
    result.notes.push_back(std::to_string(result.skipped) +
                           " grid combinations resolve to the plan of an earlier point and were not run "
                           "(listed in results.json meta.skipped)");

  // One decode step's timeline per policy, at its lowest budget that runs.
  std::map<Policy, std::size_t> lowest;
  for (std::size_t i = 0; i < points.size(); ++i) {
    if (!points[i].plan_error.empty()) continue;
    const auto it = lowest.find(points[i].policy);
    if (it == lowest.end() || points[i].budget_bytes < points[it->second].budget_bytes) lowest[points[i].policy] = i;
  }
  for (const auto& [pol, i] : lowest) points[i].keep_timeline = true;

  std::unique_ptr<Backend> backend = make_backend(opt.engine.device, opt.engine.device_index, opt.engine.threads);
  json meta;
  meta["tool"] = "ferry pressure";
  meta["commit"] = git_commit();
  meta["when"] = utc_now_iso();
  meta["machine"] = machine_json(*backend);
  backend.reset();
  meta["model"] = model_json(spec, model_bytes);
  meta["knobs"] = {{"model", opt.model},
                   {"budgets", opt.budgets},
                   {"policies", opt.policies},
                   {"prefetch_depths", opt.depths},
                   {"streams", opt.streams},
                   {"batches", opt.batches},
                   {"prompt_len", opt.prompt_len},
                   {"gen", opt.gen},
                   {"repeats", opt.repeats},
                   {"warmup", opt.warmup},
                   {"device", device_name(opt.engine.device)},
                   {"device_index", opt.engine.device_index},
                   {"threads", opt.engine.threads},
                   {"layout", layout_name(opt.engine.layout)},
                   {"pack_dir", opt.engine.pack_dir},
                   {"gpu_page_faults", opt.gpu_page_faults && um_counters_enabled()},
                   {"reuse_checkpoint", opt.reuse_checkpoint},
                   {"checkpoint", checkpoint.empty() ? json(nullptr) : json(checkpoint)}};
  meta["probe"] = opt.engine.probe ? json::parse(probe_to_json(*opt.engine.probe)) : json(nullptr);
  meta["columns"] = pressure_columns();
  meta["skipped"] = skipped;

  json rows = json::array();
  json timelines = json::object();
  Progress bar("pressure", points.size(), opt.progress, "points");
  for (std::size_t i = 0; i < points.size(); ++i) {
    const Point& p = points[i];
    const std::string what = std::string(policy_name(p.policy)) + " @ " + p.budget_label + ", depth " +
                             std::to_string(p.depth) + ", " + std::to_string(p.streams) + " streams, batch " +
                             std::to_string(p.batch);
    bar.set_label("point " + std::to_string(i + 1) + "/" + std::to_string(points.size()) + " (" + what + ")");
    bar.set(i);
    json row = {{"point", i},
                {"model", spec.name},
                {"device", device_name(opt.engine.device)},
                {"policy", policy_name(p.policy)},
                {"budget", p.budget_label},
                {"prefetch_depth", p.depth},
                {"streams", p.streams},
                {"batch", p.batch},
                {"prompt_len", opt.prompt_len},
                {"gen", opt.gen},
                {"warmup", opt.warmup},
                {"repeats", opt.repeats},
                {"threads", opt.engine.threads},
                {"layout", layout_name(opt.engine.layout)},
                {"error", nullptr}};
    for (const std::string& m : bench::metric_columns()) row[m] = nullptr;
    row["budget_bytes"] = p.budget_bytes;
    row["model_bytes"] = model_bytes;
    // The engine decides (a budget the pre-check refused fails in its planner, before any loading).
    std::string error;
    {
      bench::PointSpec ps;
      ps.engine = opt.engine;
      ps.engine.policy = p.policy;
      ps.engine.budget = p.budget;
      ps.engine.prefetch_depth = p.depth;
      ps.engine.streams = p.streams;
      ps.batch = p.batch;
      ps.prompt_len = opt.prompt_len;
      ps.gen = opt.gen;
      ps.warmup = opt.warmup;
      ps.repeats = opt.repeats;
      ps.keep_timeline = p.keep_timeline;
      try {
        json m = bench::measure_point(run_spec, ps);
        if (m.contains("timeline")) {
          json tl = m["timeline"];
          m.erase("timeline");
          if (!tl.is_null()) {
            tl["policy"] = policy_name(p.policy);
            tl["budget"] = p.budget_label;
            tl["budget_bytes"] = p.budget_bytes;
            tl["prefetch_depth"] = p.depth;
            tl["streams"] = p.streams;
            tl["batch"] = p.batch;
            tl["point"] = i;
            timelines[policy_name(p.policy)] = tl;
          }
        }
        for (auto& [k, v] : m.items()) row[k] = v;
      } catch (const ResourceExhausted& e) {
        error = e.what();
      } catch (const std::bad_alloc&) {
        error = "out of host memory";
      }
    }
    if (!error.empty()) {
      row["error"] = error;
      ++result.errors;
    }
    rows.push_back(std::move(row));
    bar.set(i + 1);
    // The files grow point by point, so a grid stopped half-way keeps what it measured.
    write_results(meta, rows, timelines, result);
  }
  bar.finish();
  result.points = static_cast<int>(rows.size());
  result.doc = write_results(meta, rows, timelines, result);
  return result;
}

}  // namespace ferry
