// Internal: the CUDA placements (placement_cuda.cu, built only with FERRY_HAVE_CUDA) and the
// managed-memory guard (managed_guard.cpp, built always so it is tested without a GPU).
// make_placement() dispatches here; this header stays free of CUDA types.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "memory/placement.h"

namespace ferry {

// The CUDA placements of placement.h's table. Throws ResourceExhausted (the managed guard, or an
// allocation that fails), BadInput (um / um-prefetch on a device without concurrent managed access).
std::unique_ptr<Placement> make_cuda_placement(Backend& backend, const PlacementConfig& cfg);

// Bytes of the one managed region that holds every pack at a 2 MiB aligned offset, plus 2 MiB so
// the region's base can be aligned too.
std::uint64_t managed_region_bytes(const std::vector<std::size_t>& pack_bytes);

// The managed guard (DESIGN.md, "Memory rules"): throws ResourceExhausted when `managed_bytes`
// (all live managed allocations of the process, this one included) exceed the device's free memory
// `free_bytes`, or `limit_bytes` when that is smaller and non-zero (--gpu-mem-limit), unless
// `allow_oversubscribe`. Oversubscribed managed memory can hang some machines.
void check_managed_fits(std::uint64_t managed_bytes, std::uint64_t free_bytes, std::uint64_t limit_bytes,
                        bool allow_oversubscribe);

}  // namespace ferry
