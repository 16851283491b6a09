// Internal: the CPU placements (placement_cpu.cpp); make_placement() dispatches here.
#pragma once
#include <memory>

#include "memory/placement.h"

namespace ferry {

std::unique_ptr<Placement> make_cpu_placement(Backend& backend, const PlacementConfig& cfg);

}  // namespace ferry
