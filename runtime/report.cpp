#include "runtime/report.h"

#include <unistd.h>

#include <string>

#include "base/units.h"
#include "ops/ops.h"

#ifndef FERRY_GIT_COMMIT
#define FERRY_GIT_COMMIT "unknown"
#endif

namespace ferry {

const char* git_commit() { return FERRY_GIT_COMMIT; }

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
          {"bytes_d2h", st.bytes_d2h},
          {"budget_bytes", st.budget},
          {"peak_resident_bytes", st.peak_resident},
          {"model_bytes", st.model_bytes},
          {"fetches", st.fetches},
          {"evictions", st.evictions}};
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
          {"model_bytes", p.model_bytes},
          {"notes", p.notes},
          {"summary", p.summary()}};
}

nlohmann::json machine_json(const Backend& backend) {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  const DeviceMemoryInfo mem = backend.memory_info();
  return {{"device", device_name(backend.kind())},
          {"device_name", backend.name()},
          {"device_memory_bytes", mem.total_bytes},
          {"host", host},
          {"commit", git_commit()}};
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
                {"dtype", dtype_name(s.dtype)}};
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
  return j;
}

namespace {
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
  std::fprintf(out, "model      %s, %.1fM parameters, weights %s\n", engine.spec().name.c_str(),
               static_cast<double>(engine.spec().parameter_count()) / 1e6, engine.weights_description().c_str());
  std::fprintf(out, "device     %s\n", engine.backend().name().c_str());
  std::fprintf(out, "plan       %s\n", engine.plan().summary().c_str());
  std::fprintf(out, "load       %.2f s\n", st.load_s);
  std::fprintf(out, "prefill    %lld tokens in %.3f s = %.1f tokens/s\n", static_cast<long long>(st.prompt_tokens),
               st.prefill_s, st.prefill_tokens_per_s);
  std::fprintf(out, "decode     %d steps x %zu sequences in %.3f s = %.2f tokens/s\n", st.decode_steps,
               res.sequences.size(), st.decode_s, st.decode_tokens_per_s);
  std::fprintf(out, "moved      %s host->device, %s device->host (%llu fetches, %llu evictions)\n",
               format_bytes(st.bytes_h2d).c_str(), format_bytes(st.bytes_d2h).c_str(),
               static_cast<unsigned long long>(st.fetches), static_cast<unsigned long long>(st.evictions));
  std::fprintf(out, "resident   peak %s of budget %s (model %s)\n", format_bytes(st.peak_resident).c_str(),
               format_bytes(st.budget).c_str(), format_bytes(st.model_bytes).c_str());
}

}  // namespace ferry
