// Planner: from the packs' sizes, the budget and the knobs, decides which layers stay resident,
// how deep to prefetch, how many ring slots and streams to use, and which policy streams the rest.
#pragma once
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "base/tensor.h"
#include "memory/policy.h"

namespace ferry {

struct PlanRequest {
  Policy policy = Policy::Auto;
  std::uint64_t budget = std::numeric_limits<std::uint64_t>::max();  // device-resident weight bytes
  int depth = 1;     // prefetch depth k: layers i+1..i+k are in flight while i computes
  int streams = 2;   // 1 compute stream + (streams - 1) copy streams; 1 = no overlap
  std::vector<std::uint64_t> pack_bytes;  // [0] = static pack, [1..L] = blocks
  DeviceKind device = DeviceKind::CPU;
  // Device bytes set aside for activations, logits and the KV cache (the Engine's reserve on
  // CUDA; 0 on the CPU). Subtracted from `budget` before weights are placed.
  std::uint64_t reserved_bytes = 0;
  // Host-tier bytes (streamed packs that stay in host RAM between uses; the rest are read from
  // disk every time). UINT64_MAX = no limit.
  std::uint64_t host_budget = std::numeric_limits<std::uint64_t>::max();
  // The streamed packs live in managed memory (CUDA um / um-prefetch), which has no disk tier.
  bool managed = false;
};

struct Plan {
  Policy policy = Policy::Resident;  // resolved (never Auto)
  std::vector<bool> keep;            // per pack: resident for the whole run (pack 0 always)
  int depth = 0;                     // effective prefetch depth (0 for um and when nothing streams)
  int streams = 1;                   // effective stream count
  int slots = 0;                     // ring slots for streamed blocks (depth + 1, or 0)
  std::uint64_t budget = 0;          // the bound enforced (requested budget, or the model size)
  std::uint64_t min_budget = 0;      // static pack + the largest block
  std::uint64_t planned_peak = 0;    // kept bytes + slots * largest streamed block
  std::uint64_t model_bytes = 0;     // sum of pack bytes
  std::uint64_t reserved_bytes = 0;  // PlanRequest::reserved_bytes, already taken out of `budget`
  int resident_layers = 0;
  int streamed_layers = 0;
  // The three tiers: per pack, where it lives between uses (kept packs: Device), and the bytes of
  // each tier. device_bytes is planned_peak (kept packs + the ring or window).
  std::vector<Tier> tier;
  std::uint64_t host_budget = 0;     // the host tier's bound (the request's, or every streamed byte)
  std::uint64_t host_bytes = 0, disk_bytes = 0;
  std::vector<std::string> notes;    // adjustments made (depth clamped, ...), for --verbose and inspect
  std::string summary() const;       // one line: "um-prefetch: 20/36 layers resident, depth 2, 2 streams, ..."
};

// Throws ResourceExhausted (exit 3) when the budget (less the reserve) is smaller than min_budget,
// or when --policy resident is asked for with a budget below the model size.
Plan make_plan(const PlanRequest& req);

}  // namespace ferry
