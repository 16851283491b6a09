#include "runtime/bench/measure.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <fstream>

#include "base/error.h"
#include "base/sysinfo.h"
#include "base/um_counters.h"
#include "runtime/flops_probe.h"
#include "memory/probe.h"
#include "runtime/report.h"

namespace ferry::bench {

using nlohmann::json;

std::vector<std::vector<std::int32_t>> synthetic_prompts(const std::vector<int>& lengths, int vocab) {
  std::vector<std::vector<std::int32_t>> prompts;
  const auto v = static_cast<std::uint64_t>(std::max(vocab, 1));
  for (std::size_t b = 0; b < lengths.size(); ++b) {
    std::vector<std::int32_t> p(static_cast<std::size_t>(std::max(lengths[b], 0)));
    for (std::size_t t = 0; t < p.size(); ++t) p[t] = static_cast<std::int32_t>((1 + 7919 * b + 104729 * t) % v);
    prompts.push_back(std::move(p));
  }
  return prompts;
}

std::vector<std::vector<std::int32_t>> synthetic_prompts(int batch, int len, int vocab) {
  return synthetic_prompts(std::vector<int>(static_cast<std::size_t>(std::max(batch, 0)), len), vocab);
}

Spread spread_of(std::vector<double> v) {
  Spread s;
  s.count = v.size();
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  s.median = v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
  s.min = v.front();
  s.max = v.back();
  return s;
}

ProbeOptions quick_probe_options(const std::string& scratch_dir) {
  ProbeOptions opt;
  // The memory figures must measure RAM, not the caches: 4 x the last-level cache per buffer (the
  // read covers two), at least 64 MiB. The file figures (disk, faults) need no such size.
  opt.bytes = std::max<std::uint64_t>(std::uint64_t{64} << 20, 4 * last_level_cache_bytes());
  opt.bytes = std::min<std::uint64_t>(opt.bytes, std::uint64_t{1} << 30);
  opt.file_bytes = std::uint64_t{64} << 20;
  opt.repeats = 3;
  opt.scratch_dir = scratch_dir;
  return opt;
}

ProbeResult acquire_probe(const std::string& probe_file, DeviceKind device, int device_index, int threads,
                          const std::string& scratch_dir) {
  if (!probe_file.empty()) {
    ProbeResult p = load_probe(probe_file);
    if (p.device != device_name(device))
      throw BadInput("--probe: " + probe_file + " was measured on " + p.device + ", this run uses " +
                     device_name(device));
    return p;
  }
  std::unique_ptr<Backend> backend = make_backend(device, device_index, threads);
  ProbeResult p = probe_machine(*backend, quick_probe_options(scratch_dir));
  p.commit = git_commit();
  return p;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return std::numeric_limits<double>::infinity();
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double d = std::fabs(static_cast<double>(a[i]) - static_cast<double>(b[i]));
    if (!(d <= m)) m = d;  // NaN wins
  }
  return m;
}

bool reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  if (!f) return false;
  f << "5";
  f.flush();
  return static_cast<bool>(f);
}

std::string lane_name(int stream) {
  if (stream == 0) return "compute";
  if (stream > 0) return "copy " + std::to_string(stream);
  return "stream " + std::to_string(stream);
}

json timeline_json(const std::vector<TimelineRecord>& records, int step) {
  double origin = -1;
  for (const TimelineRecord& r : records)
    if (r.step == step && (origin < 0 || r.begin_us < origin)) origin = r.begin_us;
  json recs = json::array();
  for (const TimelineRecord& r : records) {
    if (r.step != step) continue;
    recs.push_back({{"kind", timeline_kind_name(r.kind)},
                    {"name", r.name},
                    {"pack", r.pack},
                    {"layer", r.pack >= 1 ? r.pack - 1 : -1},
                    {"stream", r.stream},
                    {"lane", lane_name(r.stream)},
                    {"begin_us", r.begin_us - origin},
                    {"end_us", r.end_us - origin}});
  }
  return {{"step", step}, {"records", std::move(recs)}};
}

const std::vector<std::string>& metric_columns() {
  static const std::vector<std::string> cols = {
      "load_s",
      "prefill_tokens_per_s", "prefill_tokens_per_s_min", "prefill_tokens_per_s_max",
      "decode_tokens_per_s", "decode_tokens_per_s_min", "decode_tokens_per_s_max",
      "step_ms", "step_ms_min", "step_ms_max",
      "bytes_h2d", "bytes_d2h", "bytes_from_disk", "ram_bytes_per_token", "disk_bytes_per_token",
      "fetches", "evictions",
      "link_bps", "link_bps_min", "link_bps_max",
      "probed_link_bps", "probed_disk_bps", "probed_memory_bps", "probed_flops_per_s", "probe_noise",
      "bound_fraction_max_step",
      "bound_step_ms", "bound_decode_tokens_per_s",
      "bound_fraction", "bound_fraction_min", "bound_fraction_max", "prefill_bound_fraction", "limited_by",
      "budget_bytes", "model_bytes", "planned_peak_bytes", "peak_resident_bytes",
      "peak_device_allocated_bytes", "peak_device_reserved_bytes", "peak_rss_bytes", "batch_buffer_bytes",
      "minor_faults", "major_faults", "gpu_page_faults", "um_bytes_h2d", "um_bytes_d2h",
      "plan_policy", "plan_depth", "plan_streams", "plan_slots", "resident_layers", "streamed_layers",
      "prompt_tokens", "decode_steps"};
  return cols;
}

namespace {

// NAME, NAME_min, NAME_max of a sample; null when the sample is empty.
void put_spread(json& row, const std::string& name, const std::vector<double>& v, bool with_range = true) {
  const Spread s = spread_of(v);
  const bool any = s.count > 0;
  row[name] = any ? json(s.median) : json(nullptr);
  if (!with_range) return;
  row[name + "_min"] = any ? json(s.min) : json(nullptr);
  row[name + "_max"] = any ? json(s.max) : json(nullptr);
}

json median_or_null(const std::vector<double>& v) {
  const Spread s = spread_of(v);
  return s.count > 0 ? json(s.median) : json(nullptr);
}

}  // namespace

json measure_point(const ModelSpec& spec, const PointSpec& p) {
  EngineConfig cfg = p.engine;
  cfg.progress = false;
  if (p.keep_timeline) cfg.trace = true;
  Engine engine(spec, cfg);
  GenerateRequest req;
  req.prompts = synthetic_prompts(p.batch, p.prompt_len, spec.vocab_size);
  req.max_new_tokens = p.gen;
  req.sampling.greedy = true;
  for (int i = 0; i < p.warmup; ++i) engine.generate(req);

  const bool cpu = cfg.device == DeviceKind::CPU;
  const bool rss_reset = reset_peak_rss();  // the peak of the measured runs only
  std::vector<double> prefill_tps, decode_tps, step_ms, link, fraction, prefill_fraction, bound_ms, h2d, d2h, fetches,
      evictions, minor, major, gpu_faults, um_h2d, um_d2h, from_disk, ram_per_token, disk_per_token, max_fraction;
  std::uint64_t peak_resident = 0, allocated = 0, reserved = 0, batch_bytes = 0;
  RunStats last;
  json timeline = nullptr;
  for (int r = 0; r < p.repeats; ++r) {
    const std::size_t rec0 = engine.timeline() ? engine.timeline()->records().size() : 0;
    const bool um = !cpu && um_counters_enabled();
    const UmCounts u0 = um ? um_counts() : UmCounts{};
    const PageFaults f0 = page_faults();
    GenerateResult res = engine.generate(req);
    const PageFaults f1 = page_faults();
    if (um) {
      const UmCounts u1 = um_counts();
      gpu_faults.push_back(static_cast<double>(u1.gpu_page_faults - u0.gpu_page_faults));
      um_h2d.push_back(static_cast<double>(u1.bytes_h2d - u0.bytes_h2d));
      um_d2h.push_back(static_cast<double>(u1.bytes_d2h - u0.bytes_d2h));
    }
    const RunStats& st = res.stats;
    prefill_tps.push_back(st.prefill_tokens_per_s);
    if (st.decode_steps > 0) {
      decode_tps.push_back(st.decode_tokens_per_s);
      step_ms.push_back(st.decode_s * 1e3 / st.decode_steps);
    }
    h2d.push_back(static_cast<double>(st.bytes_h2d));
    from_disk.push_back(static_cast<double>(st.bytes_from_disk));
    d2h.push_back(static_cast<double>(st.bytes_d2h));
    fetches.push_back(static_cast<double>(st.fetches));
    evictions.push_back(static_cast<double>(st.evictions));
    minor.push_back(static_cast<double>(f1.minor - f0.minor));
    major.push_back(static_cast<double>(f1.major - f0.major));
    if (!st.steps.empty()) {
      std::uint64_t streamed = 0, disk = 0;
      for (const StepBound& b : st.steps) {
        if (b.step == 0) continue;
        streamed += b.streamed_bytes;
        disk += std::min(b.disk_bytes, b.streamed_bytes);
        bound_ms.push_back(b.bound_s * 1e3);
      }
      if (st.decode_steps > 0 && st.decode_s > 0) {
        link.push_back(static_cast<double>(streamed) / st.decode_s);
        fraction.push_back(st.decode_bound_fraction);
        // Per generated token: a decode step makes one token for each of the batch's sequences.
        const double tokens = static_cast<double>(st.decode_steps) * p.batch;
        ram_per_token.push_back(static_cast<double>(streamed - disk) / tokens);
        disk_per_token.push_back(static_cast<double>(disk) / tokens);
      }
      max_fraction.push_back(st.max_bound_fraction);
      prefill_fraction.push_back(st.prefill_bound_fraction);
    }
    peak_resident = std::max(peak_resident, st.peak_resident);
    batch_bytes = std::max(batch_bytes, st.batch_buffer_bytes);
    allocated = std::max(allocated, st.peak_resident + st.batch_buffer_bytes);
    reserved = std::max(reserved, st.device_used_bytes);
    if (p.keep_timeline && r + 1 == p.repeats && engine.timeline()) {
      const auto& all = engine.timeline()->records();
      const std::vector<TimelineRecord> run(all.begin() + static_cast<std::ptrdiff_t>(rec0), all.end());
      timeline = timeline_json(run, p.gen >= 2 ? std::max(1, p.gen / 2) : 0);
    }
    last = std::move(res.stats);
  }

  json row;
  row["load_s"] = engine.load_seconds();
  put_spread(row, "prefill_tokens_per_s", prefill_tps);
  put_spread(row, "decode_tokens_per_s", decode_tps);
  put_spread(row, "step_ms", step_ms);
  row["bytes_h2d"] = median_or_null(h2d);
  row["bytes_d2h"] = median_or_null(d2h);
  row["bytes_from_disk"] = median_or_null(from_disk);
  row["ram_bytes_per_token"] = median_or_null(ram_per_token);
  row["disk_bytes_per_token"] = median_or_null(disk_per_token);
  row["fetches"] = median_or_null(fetches);
  row["evictions"] = median_or_null(evictions);
  put_spread(row, "link_bps", link);
  const bool bound = cfg.probe.has_value() && !last.steps.empty();
  row["probed_link_bps"] = bound ? json(last.bound_link_bps) : json(nullptr);
  row["probed_disk_bps"] = bound ? json(last.bound_disk_bps) : json(nullptr);
  row["probed_memory_bps"] = bound ? json(last.bound_memory_bps) : json(nullptr);
  row["probed_flops_per_s"] = bound ? json(last.bound_flops_per_s) : json(nullptr);
  row["probe_noise"] = bound ? json(cfg.probe->noise) : json(nullptr);
  row["bound_fraction_max_step"] = bound && !max_fraction.empty() ? json(*std::max_element(max_fraction.begin(), max_fraction.end())) : json(nullptr);
  const Spread bms = spread_of(bound_ms);
  row["bound_step_ms"] = bms.count ? json(bms.median) : json(nullptr);
  row["bound_decode_tokens_per_s"] = bms.count && bms.median > 0 ? json(p.batch * 1e3 / bms.median) : json(nullptr);
  put_spread(row, "bound_fraction", fraction);
  row["prefill_bound_fraction"] = median_or_null(prefill_fraction);
  row["limited_by"] = bound && !last.limited_by.empty() ? json(last.limited_by) : json(nullptr);
  row["budget_bytes"] = last.budget;
  row["model_bytes"] = last.model_bytes;
  row["planned_peak_bytes"] = engine.plan().planned_peak;
  row["peak_resident_bytes"] = peak_resident;
  row["peak_device_allocated_bytes"] = allocated;
  // CUDA: device memory in use (cudaMemGetInfo); CPU: the process's peak RSS of the measured runs.
  const std::uint64_t rss = rss_reset ? peak_rss_bytes() : 0;
  row["peak_device_reserved_bytes"] = cpu ? (rss ? json(rss) : json(nullptr)) : json(reserved);
  row["peak_rss_bytes"] = rss ? json(rss) : json(nullptr);
  row["batch_buffer_bytes"] = batch_bytes;
  row["minor_faults"] = cpu ? median_or_null(minor) : json(nullptr);
  row["major_faults"] = cpu ? median_or_null(major) : json(nullptr);
  // CUDA with `ferry pressure --gpu-page-faults`: CUPTI's Unified Memory counters (base/um_counters.h).
  row["gpu_page_faults"] = median_or_null(gpu_faults);
  row["um_bytes_h2d"] = median_or_null(um_h2d);
  row["um_bytes_d2h"] = median_or_null(um_d2h);
  const Plan& plan = engine.plan();
  row["plan_policy"] = policy_name(plan.policy);
  row["plan_depth"] = plan.depth;
  row["plan_streams"] = plan.streams;
  row["plan_slots"] = plan.slots;
  row["resident_layers"] = plan.resident_layers;
  row["streamed_layers"] = plan.streamed_layers;
  row["plan_notes"] = plan.notes;  // JSON only: e.g. a budget capped at the device's memory
  row["prompt_tokens"] = last.prompt_tokens;
  row["decode_steps"] = last.decode_steps;
  if (p.keep_timeline) row["timeline"] = timeline;
  return row;
}

}  // namespace ferry::bench
