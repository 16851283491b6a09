// `ferry inspect`: sizes of a model's packs, what fits in which budget, and the plan picked.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/units.h"
#include "models/family.h"
#include "base/sysinfo.h"
#include "runtime/report.h"
#include "runtime/run_plan.h"
#include "tools/cli_common.h"

namespace ferry::cli {
namespace {

struct InspectFlags {
  std::string model = "gpt2";
  bool json = false;
  EngineFlags engine;
  GivenFlags given;  // the flags on the command line
};

// The machine's memory for the plan. A CUDA device that cannot be opened (no GPU here) tells
// nothing: the plan is then capped only by --gpu-mem-limit, and the output says so.
MachineMemory inspect_memory(const EngineConfig& cfg) {
  try {
    return machine_memory(*make_backend(cfg.device, cfg.device_index, cfg.threads));
  } catch (const Error& e) {
    std::fprintf(stderr, "ferry inspect: %s: %s; planning without its memory%s\n", device_name(cfg.device), e.what(),
                 cfg.gpu_mem_limit ? " (capped at --gpu-mem-limit)" : " (no cap; pass --gpu-mem-limit)");
    MachineMemory m;
    m.host_available = available_ram_bytes();
    return m;
  }
}

void inspect(const InspectFlags& f) {
  const ModelSpec spec = load_model_spec(f.model);
  const EngineConfig cfg = to_engine_config(f.engine, f.given);
  const DType wdt = weight_dtype_for(spec, cfg.weights);
  const std::vector<PackLayout> layouts = pack_layouts(spec, wdt);
  std::vector<std::uint64_t> bytes;
  std::uint64_t total = 0;
  for (const PackLayout& l : layouts) {
    bytes.push_back(l.bytes());
    total += l.bytes();
  }
  // The plan `run` would make (runtime/run_plan.h), on this machine's memory now.
  const MachineMemory mem = inspect_memory(cfg);
  auto plan_at = [&](const BudgetSpec& budget) {
    EngineConfig c = cfg;
    c.budget = budget;
    return plan_run(spec, c, mem).plan;
  };
  auto plan_for = [&](double fraction) {  // --budget as a percentage, as a user would give it
    BudgetSpec b;
    b.set = true;
    b.percent = true;
    b.value = fraction * 100;
    return plan_at(b);
  };
  const double fractions[] = {1.0, 0.75, 0.5, 0.35, 0.25, 0.15, 0.10};

  if (f.json) {
    nlohmann::json j;
    j["model"] = {{"name", spec.name}, {"source", spec.source}, {"parameters", spec.parameter_count()},
                  {"family", spec.family}, {"layers", spec.num_layers}, {"hidden", spec.hidden_size},
                  {"heads", spec.num_heads}, {"kv_heads", spec.kv_heads()}, {"head_dim", spec.head_dim()},
                  {"vocab", spec.vocab_size}, {"context", spec.context_length}, {"ffn", spec.ffn_size},
                  {"storage_dtype", dtype_name(spec.dtype)}, {"device", device_name(cfg.device)},
                  {"weight_dtype", dtype_name(wdt)}};
    nlohmann::json packs = nlohmann::json::array();
    for (std::size_t i = 0; i < layouts.size(); ++i)
      packs.push_back({{"pack", i == 0 ? std::string("static") : "L" + std::to_string(i - 1)},
                       {"tensors", layouts[i].tensors().size()},
                       {"used_bytes", layouts[i].used_bytes()},
                       {"bytes", layouts[i].bytes()}});
    j["packs"] = packs;
    j["total_bytes"] = total;
    nlohmann::json fits = nlohmann::json::array();
    for (double fr : fractions) {
      const auto b = static_cast<std::uint64_t>(static_cast<double>(total) * fr);
      try {
        fits.push_back({{"budget_bytes", b}, {"fraction", fr}, {"plan", plan_json(plan_for(fr))}});
      } catch (const ResourceExhausted& e) {
        fits.push_back({{"budget_bytes", b}, {"fraction", fr}, {"error", e.what()}});
      }
    }
    j["budgets"] = fits;
    j["plan"] = plan_json(plan_at(cfg.budget));
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }

  std::printf("model    %s (%s)\n", spec.name.c_str(), spec.source.c_str());
  std::printf("shape    %s: %d layers, hidden %d, %d heads, %d KV heads (head dim %d), ffn %d, vocab %d, context %d\n",
              spec.family.c_str(), spec.num_layers, spec.hidden_size, spec.num_heads, spec.kv_heads(), spec.head_dim(),
              spec.ffn_size, spec.vocab_size, spec.context_length);
  std::printf("params   %.3f B (%llu), stored as %s; on %s the weights are %s\n",
              static_cast<double>(spec.parameter_count()) / 1e9,
              static_cast<unsigned long long>(spec.parameter_count()), dtype_name(spec.dtype),
              device_name(cfg.device), dtype_name(wdt));
  std::printf("\n%-8s %8s %14s %14s\n", "pack", "tensors", "bytes", "region (2 MiB)");
  for (std::size_t i = 0; i < layouts.size(); ++i) {
    const std::string name = i == 0 ? "static" : "L" + std::to_string(i - 1);
    std::printf("%-8s %8zu %14s %14s\n", name.c_str(), layouts[i].tensors().size(),
                format_bytes(layouts[i].used_bytes()).c_str(), format_bytes(layouts[i].bytes()).c_str());
  }
  std::printf("%-8s %8s %14s %14s\n\n", "total", "", "", format_bytes(total).c_str());
  std::printf("what fits (policy %s, prefetch depth %d, %d streams):\n", f.engine.policy.c_str(), cfg.prefetch_depth,
              cfg.streams);
  std::printf("%-7s %12s  %s\n", "budget", "bytes", "plan");
  for (double fr : fractions) {
    const auto b = static_cast<std::uint64_t>(static_cast<double>(total) * fr);
    std::string line;
    try {
      line = plan_for(fr).summary();
    } catch (const ResourceExhausted& e) {
      line = std::string("does not run: ") + e.what();
    }
    std::printf("%5.0f%%  %12s  %s\n", fr * 100, format_bytes(b).c_str(), line.c_str());
  }
  const Plan p = plan_at(cfg.budget);
  std::printf("\nthe plan of `ferry run` with these flags%s: %s\n",
              cfg.budget.set ? (" (--budget " + cfg.budget.str() + ")").c_str() : " (no --budget)", p.summary().c_str());
  for (const std::string& n : p.notes) std::printf("  note: %s\n", n.c_str());
}

}  // namespace

void register_inspect(CLI::App& app) {
  auto f = std::make_shared<InspectFlags>();
  CLI::App* sub = app.add_subcommand(
      "inspect", "Per-layer bytes, the total, what fits in which budget, and the plan the planner picks.\n"
                 "Reads only the model's description: no weights are loaded. Example: ferry inspect -m gpt3-13b");
  sub->add_option("-m,--model", f->model, "Preset name, TOML file or Hugging Face directory")->capture_default_str();
  sub->add_flag("--json", f->json, "Print JSON instead of tables");
  add_engine_flags(*sub, f->engine);
  sub->callback([f, sub] {
    f->given = given_flags(*sub);
    inspect(*f);
  });
}

}  // namespace ferry::cli
