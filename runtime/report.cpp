#include "runtime/report.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "base/sysinfo.h"
#include "base/units.h"
#include "ops/cpu_isa/isa.h"
#include "ops/ops.h"

#include "ferry_git_commit.h"  // generated at build time (cmake/git_commit.cmake)
#ifndef FERRY_GIT_COMMIT
#define FERRY_GIT_COMMIT "unknown"
#endif

namespace ferry {

const char* git_commit() { return FERRY_GIT_COMMIT; }

nlohmann::json bound_json(const RunStats& st) {
  if (st.steps.empty()) return nullptr;  // no probe: the run was not measured against the bound
  nlohmann::json steps = nlohmann::json::array();
  for (const StepBound& b : st.steps)
    steps.push_back({{"step", b.step},
                     {"measured_s", b.measured_s},
                     {"flops", b.flops},
                     {"streamed_bytes", b.streamed_bytes},
                     {"streamed_measured", b.streamed_measured},
                     {"disk_bytes", b.disk_bytes},
                     {"read_bytes", b.read_bytes},
                     {"compute_s", b.compute_s},
                     {"link_s", b.link_s},
                     {"memory_s", b.memory_s},
                     {"bound_s", b.bound_s},
                     {"fraction", b.fraction},
                     {"limited_by", b.limited_by},
                     {"ferry_compute_s", b.ferry_compute_s >= 0 ? nlohmann::json(b.ferry_compute_s) : nlohmann::json(nullptr)}});
  return {{"link_bps", st.bound_link_bps},
          {"disk_bps", st.bound_disk_bps},
          {"memory_bps", st.bound_memory_bps},
          {"flops_per_s", st.bound_flops_per_s},
          {"prefill_fraction", st.prefill_bound_fraction},
          {"decode_fraction", st.decode_bound_fraction},
          {"max_fraction", st.max_bound_fraction},
          {"limited_by", st.limited_by},
          {"steps", std::move(steps)}};
}

nlohmann::json stats_json(const RunStats& st) {
  return {{"load_s", st.load_s},
          {"prefill_s", st.prefill_s},
          {"decode_s", st.decode_s},
          {"prompt_tokens", st.prompt_tokens},
          {"generated_tokens", st.generated_tokens},
          {"decode_steps", st.decode_steps},
          {"prefill_tokens_per_s", st.prefill_tokens_per_s},
          {"decode_tokens_per_s", st.decode_tokens_per_s},
          {"bytes_h2d", st.bytes_h2d},
          {"bytes_from_disk", st.bytes_from_disk},
          {"bytes_measured", st.bytes_measured},
          {"bytes_d2h", st.bytes_d2h},
          {"budget_bytes", st.budget},
          {"peak_resident_bytes", st.peak_resident},
          {"model_bytes", st.model_bytes},
          {"fetches", st.fetches},
          {"evictions", st.evictions},
          {"bound", bound_json(st)}};
}

nlohmann::json plan_json(const Plan& p) {
  return {{"policy", policy_name(p.policy)},
          {"resident_layers", p.resident_layers},
          {"streamed_layers", p.streamed_layers},
          {"prefetch_depth", p.depth},
          {"streams", p.streams},
          {"slots", p.slots},
          {"budget_bytes", p.budget},
          {"min_budget_bytes", p.min_budget},
          {"planned_peak_bytes", p.planned_peak},
          {"tiers", {{"device_bytes", p.planned_peak}, {"host_bytes", p.host_bytes}, {"disk_bytes", p.disk_bytes},
                     {"host_budget_bytes", p.host_budget}}},
          {"model_bytes", p.model_bytes},
          {"notes", p.notes},
          {"summary", p.summary()}};
}

nlohmann::json machine_json(const Backend& backend) {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  const DeviceMemoryInfo mem = backend.memory_info();
  nlohmann::json j = {{"device", device_name(backend.kind())},
                      {"device_name", backend.name()},
                      {"device_memory_bytes", mem.total_bytes},
                      {"host", host},
                      {"commit", git_commit()}};
  // The ISA path of the CPU kernels (ops/cpu_isa): which one ran, and which the CPU could run.
  if (backend.kind() == DeviceKind::CPU) j["cpu_kernels"] = ops::cpu::cpu_isa_description();
  return j;
}

nlohmann::json result_json(const Engine& engine, const GenerateRequest& req, const GenerateResult& res) {
  const ModelSpec& s = engine.spec();
  nlohmann::json j;
  j["model"] = {{"name", s.name},
                {"source", s.source},
                {"weights", engine.weights_description()},
                {"parameters", s.parameter_count()},
                {"layers", s.num_layers},
                {"hidden", s.hidden_size},
                {"heads", s.num_heads},
                {"vocab", s.vocab_size},
                {"dtype", dtype_name(s.dtype)},
                {"packed_dtype", dtype_name(engine.packed_dtype())},
                {"weights_mode", weights_mode_name(engine.weights_mode())}};
  j["sampling"] = {{"mode", req.sampling.greedy ? "greedy" : "sample"},
                   {"temperature", req.sampling.temperature},
                   {"top_k", req.sampling.top_k},
                   {"top_p", req.sampling.top_p},
                   {"seed", req.sampling.seed},
                   {"max_new_tokens", req.max_new_tokens}};
  j["plan"] = plan_json(engine.plan());
  j["machine"] = machine_json(engine.backend());
  nlohmann::json seqs = nlohmann::json::array();
  for (const SequenceResult& r : res.sequences) seqs.push_back({{"prompt_ids", r.prompt_ids}, {"generated_ids", r.generated_ids}});
  j["sequences"] = seqs;
  j["stats"] = stats_json(res.stats);
  j["stats"]["peak_host_rss_bytes"] = peak_rss_bytes();
  return j;
}

namespace {

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

std::string gb_per_s(double bps) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.3g GB/s", bps / 1e9);
  return buf;
}

// "decode at 0.63 of the bound (link-bound: 1.2 GB/s streamed of 1.9 GB/s probed; ...)"
std::string bound_line(const RunStats& st) {
  if (st.steps.empty()) return "not measured (no probe)";
  // Medians over the decode steps (or the prefill step alone), like the fraction itself.
  const bool decode = st.steps.size() > 1;
  std::vector<double> measured, compute, ferry, streamed, disk, read;
  for (const StepBound& b : st.steps) {
    if ((b.step > 0) != decode) continue;
    const double t = std::max(b.measured_s, 1e-12);
    measured.push_back(b.measured_s);
    compute.push_back(b.compute_s);
    if (b.ferry_compute_s >= 0) ferry.push_back(b.ferry_compute_s);
    streamed.push_back(static_cast<double>(b.streamed_bytes) / t);
    disk.push_back(static_cast<double>(b.disk_bytes) / t);
    read.push_back(static_cast<double>(b.read_bytes) / t);
  }
  char buf[256];
  std::string why;
  if (st.limited_by == "link") {
    why = "link-bound: " + gb_per_s(median(streamed)) + " streamed of " + gb_per_s(st.bound_link_bps) + " probed, " +
          gb_per_s(median(disk)) + " from disk of " + gb_per_s(st.bound_disk_bps) + " probed";
  } else if (st.limited_by == "memory") {
    why = "memory-bound: " + gb_per_s(median(read)) + " read of " + gb_per_s(st.bound_memory_bps) + " probed";
  } else {
    std::snprintf(buf, sizeof buf, "compute-bound: %.3g ms of FLOPs at %.3g GFLOP/s in %.3g ms per step",
                  median(compute) * 1e3, st.bound_flops_per_s / 1e9, median(measured) * 1e3);
    why = buf;
  }
  if (!ferry.empty()) {
    std::snprintf(buf, sizeof buf, "; ferry computed for %.3g ms", median(ferry) * 1e3);
    why += buf;
  }
  const double fraction = decode ? st.decode_bound_fraction : st.prefill_bound_fraction;
  std::snprintf(buf, sizeof buf, "%s at %.2f of the bound (", decode ? "decode" : "prefill", fraction);
  // Above 1 the probe was no bound for this run: caches held the working set, or the probe was noisy.
  return buf + why + (fraction > 1.05 ? "; above 1: faster than probed, probe with more --bytes)" : ")");
}

std::string join_ids(const std::vector<std::int32_t>& ids) {
  std::string s;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i) s.push_back(' ');
    s.append(std::to_string(ids[i]));
  }
  return s;
}
}  // namespace

void print_result_text(const Engine& engine, const GenerateResult& res, std::FILE* out) {
  for (std::size_t i = 0; i < res.sequences.size(); ++i) {
    const SequenceResult& r = res.sequences[i];
    const std::string p = join_ids(r.prompt_ids), g = join_ids(r.generated_ids);
    std::fprintf(out, "sequence %zu: prompt [%s] -> generated [%s]\n", i, p.c_str(), g.c_str());
  }
  const RunStats& st = res.stats;
  std::fprintf(out, "model      %s, %.1fM parameters, weights %s, packed as %s (--weights %s)\n",
               engine.spec().name.c_str(), static_cast<double>(engine.spec().parameter_count()) / 1e6,
               engine.weights_description().c_str(), dtype_name(engine.packed_dtype()),
               weights_mode_name(engine.weights_mode()));
  if (engine.backend().kind() == DeviceKind::CPU)
    std::fprintf(out, "device     %s, kernels %s\n", engine.backend().name().c_str(),
                 ops::cpu::cpu_isa_description().c_str());
  else
    std::fprintf(out, "device     %s\n", engine.backend().name().c_str());
  std::fprintf(out, "plan       %s\n", engine.plan().summary().c_str());
  std::fprintf(out, "load       %.2f s\n", st.load_s);
  std::fprintf(out, "prefill    %lld tokens in %.3f s = %.1f tokens/s\n", static_cast<long long>(st.prompt_tokens),
               st.prefill_s, st.prefill_tokens_per_s);
  std::fprintf(out, "decode     %d steps x %zu sequences in %.3f s = %.2f tokens/s\n", st.decode_steps,
               res.sequences.size(), st.decode_s, st.decode_tokens_per_s);
  std::fprintf(out, "moved      %s host->device (%s of it read from disk), %s device->host (%llu fetches, %llu evictions)\n",
               format_bytes(st.bytes_h2d).c_str(), format_bytes(st.bytes_from_disk).c_str(), format_bytes(st.bytes_d2h).c_str(),
               static_cast<unsigned long long>(st.fetches), static_cast<unsigned long long>(st.evictions));
  std::fprintf(out, "resident   peak %s of budget %s (model %s)\n", format_bytes(st.peak_resident).c_str(),
               format_bytes(st.budget).c_str(), format_bytes(st.model_bytes).c_str());
  std::fprintf(out, "bound      %s\n", bound_line(st).c_str());
}

}  // namespace ferry
