// The placement policies of DESIGN.md.
#pragma once
#include <cstdint>
#include <string>

namespace ferry {

enum class Policy : std::uint8_t { Resident, UM, UMPrefetch, Stream, Auto };
const char* policy_name(Policy p);  // "resident", "um", "um-prefetch", "stream", "auto"
Policy parse_policy(const std::string& s, const std::string& what);  // BadInput on unknown names

// The three tiers of DESIGN.md a pack lives in between uses. Device: kept resident (under
// --budget). Host: host RAM (CUDA: pinned memory; CPU: the page cache the run may use, under
// --host-budget). Disk: the pack file on disk, read into a buffer every time it is needed.
enum class Tier : std::uint8_t { Device, Host, Disk };
const char* tier_name(Tier t);  // "device", "host", "disk"

}  // namespace ferry
