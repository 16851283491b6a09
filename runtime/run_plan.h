// The one plan of a run (issue: `run`, `inspect`, `pressure` and `bench` must not disagree): from a
// model, an EngineConfig and the machine's memory, every cap and reserve is applied here and only
// here — the CUDA reserve for the largest batch, the device budget capped at what the device holds,
// the host budget (default: the available RAM less a margin), then the planner.
#pragma once
#include <cstdint>
#include <vector>

#include "base/backend.h"
#include "models/model_spec.h"
#include "runtime/engine.h"
#include "scheduler/planner.h"

namespace ferry {

// What the machine holds now: the device's memory (CPU: RAM) and the host RAM available.
struct MachineMemory {
  DeviceMemoryInfo device;          // Backend::memory_info(); zeros = unknown (nothing is capped)
  std::uint64_t host_available = 0;  // MemAvailable; 0 = unknown
};
MachineMemory machine_memory(const Backend& backend);

struct RunPlan {
  Plan plan;
  std::vector<std::uint64_t> pack_bytes;  // per pack, as placed on cfg.device
  std::uint64_t reserved_bytes = 0;       // CUDA: activations, logits, KV cache, op workspace
};

// Throws BadInput (a bad flag) and ResourceExhausted (exit 3: a budget below one layer, ...).
RunPlan plan_run(const ModelSpec& spec, const EngineConfig& cfg, const MachineMemory& mem);

// The host tier's bound: --host-budget resolved against the model, or by default the available
// RAM less kCpuHeadroomBytes and (on the CPU, where the device is RAM too) less the device budget;
// capped at that same figure, with a note, when asked for more.
std::uint64_t host_budget(const EngineConfig& cfg, const MachineMemory& mem, std::uint64_t model_bytes,
                          std::uint64_t device_budget, std::vector<std::string>& notes);

}  // namespace ferry
