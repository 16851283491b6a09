// Planner: which blocks stay resident, the prefetch window, ring slots and streams, under a budget.
#include "scheduler/planner.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "base/error.h"
#include "base/units.h"

namespace ferry {

namespace {

// Auto, when the model does not fit. A fixed rule per backend: the planner does not consult the
// probe; `ferry pressure` measures every policy at every budget and checks the rule.
// CUDA: stream. As many layers resident as fit, the rest copied from pinned host memory (or from
// disk through pinned staging buffers) into a ring of device buffers; a managed allocation of the
// whole model would be refused by the guard on exactly the models ferry exists for (larger than
// the GPU), so um-prefetch stays explicit.
// CPU: um-prefetch. Where the streamed layers are in the page cache (the host tier), mapping them
// costs page-table work only, while stream's pread copies every byte on the same 2 cores the
// compute needs: in bench/results/cpu (gpt2-xl at 25% and 50%) um-prefetch decodes 1.4x faster than
// stream; from disk (gpt3-13b at 100% and 25%) it is 1.06x to 1.15x faster, both reading the disk.
Policy auto_policy(DeviceKind device) { return device == DeviceKind::CUDA ? Policy::Stream : Policy::UMPrefetch; }

std::string pct(std::uint64_t part, std::uint64_t whole) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f%%", whole ? 100.0 * static_cast<double>(part) / static_cast<double>(whole) : 100.0);
  return buf;
}

}  // namespace

std::string Plan::summary() const {
  const int layers = resident_layers + streamed_layers;
  std::string s = std::string(policy_name(policy)) + ": " + std::to_string(resident_layers) + "/" +
                  std::to_string(layers) + " layers resident, depth " + std::to_string(depth) + ", " +
                  std::to_string(streams) + (streams == 1 ? " stream" : " streams");
  if (slots > 0) s += ", " + std::to_string(slots) + (slots == 1 ? " slot" : " slots");
  s += ", budget " + format_bytes(budget) + " (" + pct(budget, model_bytes) + " of the " + format_bytes(model_bytes) +
       " model), planned peak " + format_bytes(planned_peak) + ", min budget " + format_bytes(min_budget);
  if (reserved_bytes > 0) s += ", " + format_bytes(reserved_bytes) + " reserved for activations, logits and KV cache";
  s += "; tiers: device " + format_bytes(planned_peak) + ", host " + format_bytes(host_bytes) + ", disk " +
       format_bytes(disk_bytes);
  return s;
}

namespace {

// Kept packs are on the device. Streamed packs stay in host RAM, in the order a step reads them,
// while the host budget allows; the rest are read from disk every time they are needed. Every
// streamed pack is read once a step, so which ones stay in RAM does not change the bytes read from
// each tier, only which layers wait on the disk. Managed memory (CUDA um / um-prefetch) is host RAM.
void assign_tiers(const PlanRequest& req, Plan& plan) {
  plan.tier.assign(req.pack_bytes.size(), Tier::Device);
  std::uint64_t streamed = 0;
  for (std::size_t p = 0; p < req.pack_bytes.size(); ++p)
    if (!plan.keep[p]) streamed += req.pack_bytes[p];
  plan.host_budget = std::min(req.host_budget, streamed);
  for (std::size_t p = 0; p < req.pack_bytes.size(); ++p) {
    if (plan.keep[p]) continue;
    const std::uint64_t b = req.pack_bytes[p];
    if (req.managed || plan.host_bytes + b <= req.host_budget) {
      plan.tier[p] = Tier::Host;
      plan.host_bytes += b;
    } else {
      plan.tier[p] = Tier::Disk;
      plan.disk_bytes += b;
    }
  }
  if (req.managed && plan.host_bytes > req.host_budget)
    plan.notes.push_back(std::string(policy_name(plan.policy)) + ": the " + format_bytes(plan.host_bytes) +
                         " of streamed layers live in managed memory (host RAM), above --host-budget " +
                         format_bytes(req.host_budget) + "; managed memory has no disk tier");
  if (plan.disk_bytes > 0)
    plan.notes.push_back(format_bytes(plan.disk_bytes) + " of streamed layers beyond the host budget of " +
                         format_bytes(req.host_budget) + " are read from disk every step");
}

Plan plan_device(const PlanRequest& req);

}  // namespace

Plan make_plan(const PlanRequest& req) {
  Plan plan = plan_device(req);
  assign_tiers(req, plan);
  return plan;
}

namespace {

Plan plan_device(const PlanRequest& req) {
  FERRY_CHECK(!req.pack_bytes.empty(), "make_plan: no packs (pack 0 holds the static weights)");
  const int L = static_cast<int>(req.pack_bytes.size()) - 1;
  const std::uint64_t pack0 = req.pack_bytes[0];
  std::uint64_t model = 0, largest = 0;
  for (std::size_t p = 0; p < req.pack_bytes.size(); ++p) {
    model += req.pack_bytes[p];
    if (p > 0) largest = std::max(largest, req.pack_bytes[p]);
  }

  Plan plan;
  plan.model_bytes = model;
  plan.min_budget = pack0 + largest;
  plan.reserved_bytes = req.reserved_bytes;
  plan.keep.assign(req.pack_bytes.size(), true);

  const bool unlimited = req.budget == std::numeric_limits<std::uint64_t>::max();
  // The bound on weight bytes: the budget less what is reserved for activations, logits and KV.
  std::uint64_t budget = req.budget;
  std::string after_reserve;  // for error messages
  if (req.reserved_bytes > 0) {
    const std::string what = format_bytes(req.reserved_bytes) + " reserved for activations, logits and the KV cache";
    if (unlimited) {
      plan.notes.push_back(what + " (no budget)");
    } else {
      if (req.budget <= req.reserved_bytes)
        throw ResourceExhausted("budget " + format_bytes(req.budget) + " leaves nothing for the weights: " + what +
                                " of the largest batch");
      budget = req.budget - req.reserved_bytes;
      after_reserve = " (the budget " + format_bytes(req.budget) + " less " + what + ")";
      plan.notes.push_back("budget " + format_bytes(req.budget) + " less " + what + ": " + format_bytes(budget) +
                           " for weights");
    }
  }
  plan.budget = unlimited ? model : budget;

  // The whole model fits: keep everything, nothing moves after the first fetch.
  if (unlimited || budget >= model) {
    plan.policy = req.policy == Policy::Auto ? Policy::Resident : req.policy;
    plan.depth = 0;
    plan.streams = 1;
    plan.slots = 0;
    plan.planned_peak = model;
    plan.resident_layers = L;
    plan.streamed_layers = 0;
    if (req.policy == Policy::Auto)
      plan.notes.push_back("auto: the model fits the budget, every layer resident");
    else if (req.policy != Policy::Resident)
      plan.notes.push_back(std::string(policy_name(req.policy)) +
                           ": the model fits the budget, every layer is fetched once and kept");
    return plan;
  }

  if (budget < plan.min_budget)
    throw ResourceExhausted("budget " + format_bytes(budget) + after_reserve +
                            " is smaller than one layer: needs at least " + format_bytes(plan.min_budget) +
                            " (static weights " + format_bytes(pack0) + " + largest layer " + format_bytes(largest) + ")");
  if (req.policy == Policy::Resident)
    throw ResourceExhausted("--policy resident needs the whole model (" + format_bytes(model) +
                            ") resident, but the budget is " + format_bytes(budget) + after_reserve +
                            " (use --policy auto, um, um-prefetch or stream)");

  plan.policy = req.policy;
  if (req.policy == Policy::Auto) {
    plan.policy = auto_policy(req.device);
    plan.notes.push_back(std::string("auto: the model does not fit the budget, streaming with ") +
                         policy_name(plan.policy) + " (a fixed rule per device, checked by `ferry pressure`; the probe is not consulted)");
  }

  int depth = 0, streams = 1;
  if (plan.policy == Policy::UM) {
    // Pages fault in when touched: one block in flight, nothing to overlap on copy streams.
    if (req.depth != 0) plan.notes.push_back("um: prefetch depth " + std::to_string(req.depth) + " ignored (pages fault in on touch)");
    if (req.streams > 1) plan.notes.push_back("um: " + std::to_string(req.streams) + " streams reduced to 1 (nothing is copied)");
  } else {
    depth = req.depth;
    if (depth < 0) {
      plan.notes.push_back("prefetch depth " + std::to_string(depth) + " raised to 0");
      depth = 0;
    }
    while (depth > 0 && pack0 + static_cast<std::uint64_t>(depth + 1) * largest > budget) --depth;
    if (depth != std::max(req.depth, 0))
      plan.notes.push_back("prefetch depth " + std::to_string(req.depth) + " clamped to " + std::to_string(depth) +
                           ": a window of " + std::to_string(req.depth + 1) + " layers does not fit the budget");
    streams = req.streams;
    if (streams < 1) {
      plan.notes.push_back("streams " + std::to_string(req.streams) + " raised to 1");
      streams = 1;
    }
  }
  const int want_slots = depth + 1;

  // Keep the first r blocks: the largest r whose kept bytes plus the ring (sized to the largest
  // streamed block, no more slots than blocks that stream) fit the budget.
  std::vector<std::uint64_t> prefix(static_cast<std::size_t>(L) + 1, pack0);     // kept bytes with r kept
  std::vector<std::uint64_t> suffix_max(static_cast<std::size_t>(L) + 1, 0);      // largest of blocks r..L-1
  for (int r = 1; r <= L; ++r) prefix[r] = prefix[r - 1] + req.pack_bytes[static_cast<std::size_t>(r)];
  for (int r = L - 1; r >= 0; --r) suffix_max[r] = std::max(suffix_max[r + 1], req.pack_bytes[static_cast<std::size_t>(r) + 1]);
  auto need = [&](int r, int slots) { return prefix[r] + static_cast<std::uint64_t>(slots) * suffix_max[r]; };
  int r = L;
  int slots = 0;
  for (; r >= 0; --r) {
    slots = std::min(want_slots, L - r);
    if (need(r, slots) <= budget) break;
  }
  FERRY_CHECK(r >= 0, "make_plan: no plan fits a budget above the minimum");

  for (int b = 0; b < L; ++b) plan.keep[static_cast<std::size_t>(b) + 1] = b < r;
  plan.resident_layers = r;
  plan.streamed_layers = L - r;
  if (r == L) {
    depth = 0;
    slots = 0;
    streams = 1;
  } else if (slots < want_slots) {
    plan.notes.push_back("prefetch depth " + std::to_string(depth) + " reduced to " + std::to_string(slots - 1) +
                         ": only " + std::to_string(L - r) + " layers stream");
    depth = slots - 1;
  }
  if (plan.policy == Policy::UM) depth = 0;
  plan.depth = depth;
  plan.slots = slots;
  plan.streams = streams;
  plan.planned_peak = need(r, slots);
  FERRY_CHECK(plan.planned_peak <= budget, "make_plan: planned peak above the budget");
  return plan;
}

}  // namespace

}  // namespace ferry
