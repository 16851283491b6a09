#include "runtime/bench/layer_report.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "base/units.h"
#include "runtime/bench/measure.h"

namespace ferry::bench {

namespace {

std::string percent(double f, int decimals = 0) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f%%", decimals, f * 100.0);
  return buf;
}

std::string ms(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, s * 1e3 >= 10 ? "%.1f ms" : "%.3f ms", s * 1e3);
  return buf;
}

std::string rate(double bps) { return format_bytes(static_cast<std::uint64_t>(std::max(0.0, bps))) + "/s"; }

}  // namespace

LayerReport layer_report(const Engine& engine, const RunStats& stats, const std::vector<TimelineRecord>& records) {
  LayerReport rep;
  bool any_decode = false;
  for (const TimelineRecord& r : records) any_decode = any_decode || r.step >= 1;
  rep.steps_kind = any_decode ? "decode" : "prefill";
  auto counted = [&](int step) { return any_decode ? step >= 1 : step == 0; };

  // The compute stream's intervals per step, in time order.
  std::map<int, std::vector<const TimelineRecord*>> lane;
  for (const TimelineRecord& r : records)
    if (r.stream == 0 && counted(r.step)) lane[r.step].push_back(&r);
  const int packs = static_cast<int>(engine.layouts().size());
  std::vector<double> wait(static_cast<std::size_t>(packs), 0.0), compute(static_cast<std::size_t>(packs), 0.0);
  std::vector<int> seen(static_cast<std::size_t>(packs), 0);
  for (auto& [step, recs] : lane) {
    std::sort(recs.begin(), recs.end(), [](const TimelineRecord* a, const TimelineRecord* b) { return a->begin_us < b->begin_us; });
    for (std::size_t i = 0; i < recs.size(); ++i) {
      const TimelineRecord& r = *recs[i];
      if (r.kind != TimelineKind::Compute || r.pack < 1 || r.pack >= packs) continue;
      const auto p = static_cast<std::size_t>(r.pack);
      if (i > 0) wait[p] += std::max(0.0, r.begin_us - recs[i - 1]->end_us) * 1e-3;
      compute[p] += std::max(0.0, r.end_us - r.begin_us) * 1e-3;
      ++seen[p];
    }
  }
  rep.steps = static_cast<int>(lane.size());
  for (int p = 0; p < packs; ++p) {
    LayerReportRow row;
    row.pack = p;
    row.layer = p == 0 ? std::string("static") : std::string("L").append(std::to_string(p - 1));
    row.bytes = engine.layouts()[static_cast<std::size_t>(p)].bytes();
    row.lives = engine.plan().keep[static_cast<std::size_t>(p)] ? "resident" : "streamed";
    const int n = seen[static_cast<std::size_t>(p)];
    row.steps = n;
    if (n > 0) {
      row.prefetch_wait_ms = wait[static_cast<std::size_t>(p)] / n;
      row.compute_ms = compute[static_cast<std::size_t>(p)] / n;
    }
    rep.rows.push_back(row);
  }
  rep.verdict = verdict_line(stats, engine.plan());
  rep.prefill_ops = stats.prefill_ops;
  rep.decode_ops = stats.decode_ops;
  rep.decode_steps = stats.decode_steps;
  return rep;
}

std::string verdict_line(const RunStats& st, const Plan&) {
  if (st.steps.empty())
    return "verdict: no bound: the run measured no bandwidths (--no-probe); drop it, or pass --probe FILE saved "
           "by `ferry probe`";
  std::vector<double> measured, bound;
  const bool decode = st.decode_steps > 0;
  for (const StepBound& b : st.steps) {
    if ((b.step >= 1) != decode) continue;
    measured.push_back(b.measured_s);
    bound.push_back(b.bound_s);
  }
  const double fraction = decode ? st.decode_bound_fraction : st.prefill_bound_fraction;
  std::string limited = st.limited_by;
  if (limited.empty())
    for (const StepBound& b : st.steps)
      if (b.step == 0) limited = b.limited_by;
  std::string why;
  if (limited == "link")
    why = "moving the streamed weights (" + rate(st.bound_link_bps) + " link, " + rate(st.bound_disk_bps) +
          " disk probed; the same bound for every policy)";
  else if (limited == "memory")
    why = "device memory bandwidth (" + rate(st.bound_memory_bps) + " probed)";
  else if (limited == "compute")
    why = "the step's FLOPs at the probed GEMM peak (" + std::to_string(static_cast<long long>(st.bound_flops_per_s / 1e9)) + " GFLOP/s)";
  else
    why = limited.empty() ? "nothing measurable" : limited;
  const std::string unit = decode ? "/step" : " prefill";
  return "verdict: " + std::string(decode ? "decode" : "prefill") + " at " + percent(fraction) + " of the bound (" +
         ms(spread_of(measured).median) + unit + " measured, " + ms(spread_of(bound).median) + unit +
         " bound), limited by " + why;
}

std::string format_layer_report(const LayerReport& r) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "per layer (mean over %d %s step%s):\n", r.steps, r.steps_kind.c_str(),
                r.steps == 1 ? "" : "s");
  out += line;
  std::snprintf(line, sizeof line, "%-8s %12s  %-9s %15s %13s\n", "layer", "bytes", "lives", "prefetch wait", "compute");
  out += line;
  for (const LayerReportRow& row : r.rows) {
    const std::string w = row.steps ? ms(row.prefetch_wait_ms * 1e-3) : "-";
    const std::string c = row.steps ? ms(row.compute_ms * 1e-3) : "-";
    std::snprintf(line, sizeof line, "%-8s %12s  %-9s %15s %13s\n", row.layer.c_str(), format_bytes(row.bytes).c_str(),
                  row.lives.c_str(), w.c_str(), c.c_str());
    out += line;
  }
  out += format_op_shares(r);
  out += r.verdict + "\n";
  return out;
}

namespace {

double total_seconds(const std::vector<ops::OpTime>& v) {
  double s = 0;
  for (const ops::OpTime& t : v) s += t.seconds;
  return s;
}

const ops::OpTime* find_op(const std::vector<ops::OpTime>& v, const std::string& op) {
  for (const ops::OpTime& t : v)
    if (t.op == op) return &t;
  return nullptr;
}

}  // namespace

std::string format_op_shares(const LayerReport& r) {
  if (r.prefill_ops.empty() && r.decode_ops.empty()) return "";
  // Decode's order first (the steps a long generation spends its time in), then prefill-only ops.
  std::vector<std::string> order;
  for (const ops::OpTime& t : r.decode_ops) order.push_back(t.op);
  for (const ops::OpTime& t : r.prefill_ops)
    if (!find_op(r.decode_ops, t.op)) order.push_back(t.op);
  const double pre = total_seconds(r.prefill_ops), dec = total_seconds(r.decode_ops);
  const double steps = std::max(r.decode_steps, 1);
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "per op (CPU, time inside the ops: prefill %s, decode %s/step):\n", ms(pre).c_str(),
                ms(dec / steps).c_str());
  out += line;
  std::snprintf(line, sizeof line, "%-26s %12s %7s %15s %7s %11s\n", "op", "prefill", "share", "decode/step", "share",
                "calls/step");
  out += line;
  for (const std::string& op : order) {
    const ops::OpTime* p = find_op(r.prefill_ops, op);
    const ops::OpTime* d = find_op(r.decode_ops, op);
    const std::string ps = p ? ms(p->seconds) : "-", psh = p && pre > 0 ? percent(p->seconds / pre, 1) : "-";
    const std::string ds = d ? ms(d->seconds / steps) : "-", dsh = d && dec > 0 ? percent(d->seconds / dec, 1) : "-";
    const std::string calls = d ? std::to_string(static_cast<long long>(static_cast<double>(d->calls) / steps + 0.5)) : "-";
    std::snprintf(line, sizeof line, "%-26s %12s %7s %15s %7s %11s\n", op.c_str(), ps.c_str(), psh.c_str(), ds.c_str(),
                  dsh.c_str(), calls.c_str());
    out += line;
  }
  return out;
}

nlohmann::json layer_report_json(const LayerReport& r) {
  nlohmann::json layers = nlohmann::json::array();
  for (const LayerReportRow& row : r.rows)
    layers.push_back({{"layer", row.layer},
                      {"pack", row.pack},
                      {"bytes", row.bytes},
                      {"lives", row.lives},
                      {"prefetch_wait_ms", row.steps ? nlohmann::json(row.prefetch_wait_ms) : nlohmann::json(nullptr)},
                      {"compute_ms", row.steps ? nlohmann::json(row.compute_ms) : nlohmann::json(nullptr)},
                      {"steps", row.steps}});
  const auto ops_json = [](const std::vector<ops::OpTime>& v) {
    nlohmann::json a = nlohmann::json::array();
    for (const ops::OpTime& t : v) a.push_back({{"op", t.op}, {"seconds", t.seconds}, {"calls", t.calls}});
    return a;
  };
  return {{"steps_kind", r.steps_kind}, {"steps", r.steps},       {"layers", layers},
          {"verdict", r.verdict},       {"prefill_ops", ops_json(r.prefill_ops)}, {"decode_ops", ops_json(r.decode_ops)},
          {"decode_steps", r.decode_steps}};
}

}  // namespace ferry::bench
