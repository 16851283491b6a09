// Where the `stream` policy keeps a pack on the compute side, shared by its CPU and CUDA
// placements: kept packs in a buffer of their own, streamed packs in a ring slot.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "base/error.h"
#include "memory/buffer.h"
#include "memory/placement.h"

namespace ferry {

// The compute-side address of `pack` in `slot` (-1 for kept packs); checks the slot is valid.
inline std::byte* stream_target(const PlacementConfig& cfg, const std::vector<Buffer>& kept,
                                const std::vector<Buffer>& slots, int pack, int slot) {
  const auto p = static_cast<std::size_t>(pack);
  if (slot < 0) {
    FERRY_CHECK(cfg.keep[p], "stream placement: pack " + std::to_string(pack) + " is not kept but has no slot");
    return kept[p].bytes_ptr();
  }
  FERRY_CHECK(slot < static_cast<int>(slots.size()), "stream placement: slot " + std::to_string(slot) + " out of range");
  FERRY_CHECK(cfg.pack_bytes[p] <= slots[static_cast<std::size_t>(slot)].size(),
              "stream placement: pack " + std::to_string(pack) + " does not fit a slot");
  return slots[static_cast<std::size_t>(slot)].bytes_ptr();
}

}  // namespace ferry
