// The planner's budget: the user's --budget resolved, then capped at what the device can hold.
//
// CUDA (docs/cuda.md): the budget covers the weights plus `reserved` (KV cache, activations,
// workspaces), which the planner takes out first. A percentage is a share of the weights, so the
// reserve comes on top of it (100% always fits the whole model); an absolute budget is all the
// device memory ferry may use. Either, and no budget at all, is capped at the device's free memory,
// or at --gpu-mem-limit when smaller.
//
// CPU: the device is RAM. A budget (or a model without one) larger than the available RAM less a
// headroom for activations and the rest of the process is capped there, so a model twice the
// machine's RAM streams from its pack file instead of being killed for memory.
#include <limits>

#include "base/units.h"
#include "runtime/engine.h"

namespace ferry {

namespace {

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
  return a > std::numeric_limits<std::uint64_t>::max() - b ? std::numeric_limits<std::uint64_t>::max() : a + b;
}

}  // namespace

std::uint64_t device_budget(const EngineConfig& cfg, const DeviceMemoryInfo& mem, std::uint64_t model_bytes,
                            std::uint64_t reserved, std::vector<std::string>& notes) {
  std::uint64_t budget = cfg.budget.resolve(model_bytes);  // UINT64_MAX when unset
  if (cfg.budget.set && cfg.budget.percent) budget = saturating_add(budget, reserved);
  // What the device holds: its free memory, or --gpu-mem-limit when smaller (or when the device
  // tells nothing, e.g. `inspect --device cuda --gpu-mem-limit 16GiB` on a machine without one).
  std::uint64_t capacity = mem.free_bytes;
  std::string what = "the device's free memory ";
  if (cfg.device == DeviceKind::CPU) {
    if (mem.free_bytes == 0) return budget;  // the machine tells nothing: nothing to cap at
    capacity = mem.free_bytes > kCpuHeadroomBytes ? mem.free_bytes - kCpuHeadroomBytes : 0;
    what = "the available RAM less " + format_bytes(kCpuHeadroomBytes) + " of headroom, ";
  } else if (cfg.gpu_mem_limit != 0 && (capacity == 0 || cfg.gpu_mem_limit < capacity)) {
    capacity = cfg.gpu_mem_limit;
    what = "--gpu-mem-limit ";
  } else if (capacity == 0) {
    return budget;
  }
  const std::uint64_t wanted = cfg.budget.set ? budget : saturating_add(model_bytes, reserved);
  if (wanted <= capacity) return budget;
  notes.push_back((cfg.budget.set ? "--budget " + cfg.budget.str() : std::string("no --budget")) + ": capped at " +
                  what + format_bytes(capacity));
  return capacity;
}

}  // namespace ferry
