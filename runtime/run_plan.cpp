// plan_run: the one place a run's plan is made (see run_plan.h).
#include "runtime/run_plan.h"

#include <algorithm>
#include <limits>

#include "base/error.h"
#include "base/sysinfo.h"
#include "base/units.h"
#ifdef FERRY_HAVE_CUDA
#include "ops/cuda_context.cuh"  // the ops' device workspace, part of the CUDA reserve
#endif

namespace ferry {

MachineMemory machine_memory(const Backend& backend) {
  MachineMemory m;
  m.device = backend.memory_info();
  m.host_available = available_ram_bytes();
  return m;
}

std::uint64_t host_budget(const EngineConfig& cfg, const MachineMemory& mem, std::uint64_t model_bytes,
                          std::uint64_t device_budget, std::vector<std::string>& notes) {
  constexpr std::uint64_t kUnlimited = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t room = kUnlimited;
  std::string what = "the available RAM less " + format_bytes(kCpuHeadroomBytes);
  if (mem.host_available > 0) {
    room = mem.host_available > kCpuHeadroomBytes ? mem.host_available - kCpuHeadroomBytes : 0;
    if (cfg.device == DeviceKind::CPU) {
      // The CPU's "device" is RAM too: the budgeted weights and the page cache share it.
      const std::uint64_t used = std::min(device_budget, model_bytes);
      room = room > used ? room - used : 0;
      what += " and the device budget";
    }
  }
  if (!cfg.host_budget.set) return room;
  const std::uint64_t asked = cfg.host_budget.resolve(model_bytes);
  if (asked <= room) return asked;
  notes.push_back("--host-budget " + cfg.host_budget.str() + ": capped at " + what + ", " + format_bytes(room));
  return room;
}

RunPlan plan_run(const ModelSpec& spec, const EngineConfig& cfg, const MachineMemory& mem) {
  if (cfg.prefetch_depth < 1 || cfg.prefetch_depth > 16)
    throw BadInput("--prefetch-depth: must be between 1 and 16, got " + std::to_string(cfg.prefetch_depth));
  if (cfg.streams < 1 || cfg.streams > 16)
    throw BadInput("--streams: must be between 1 and 16, got " + std::to_string(cfg.streams));
  RunPlan rp;
  rp.pack_bytes = model_pack_bytes(spec, cfg.weights);
  std::uint64_t model_bytes = 0;
  for (std::uint64_t b : rp.pack_bytes) model_bytes += b;

  PlanRequest req;
  req.policy = cfg.policy;
  req.depth = cfg.prefetch_depth;
  req.streams = cfg.streams;
  req.device = cfg.device;
  req.pack_bytes = rp.pack_bytes;
  if (cfg.device == DeviceKind::CUDA) {
    if (cfg.max_batch_tokens < 1) throw BadInput("--max-batch-tokens: must be >= 1, got " + std::to_string(cfg.max_batch_tokens));
    if (cfg.max_sequences < 1) throw BadInput("--max-seqs: must be >= 1, got " + std::to_string(cfg.max_sequences));
    rp.reserved_bytes = batch_reserve_bytes(spec, cfg.max_batch_tokens, cfg.max_sequences);
#ifdef FERRY_HAVE_CUDA
    rp.reserved_bytes += ops::cuda::kLtWorkspaceBytes + ops::cuda::kScratchBytes;
#endif
    req.reserved_bytes = rp.reserved_bytes;
    req.managed = cfg.policy == Policy::UM || cfg.policy == Policy::UMPrefetch;
  }
  std::vector<std::string> notes;
  req.budget = device_budget(cfg, mem.device, model_bytes, rp.reserved_bytes, notes);
  req.host_budget = host_budget(cfg, mem, model_bytes, req.budget, notes);
  rp.plan = make_plan(req);
  rp.plan.notes.insert(rp.plan.notes.end(), notes.begin(), notes.end());
  return rp;
}

}  // namespace ferry
