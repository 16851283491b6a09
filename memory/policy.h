// The placement policies of DESIGN.md.
#pragma once
#include <cstdint>
#include <string>

namespace ferry {

enum class Policy : std::uint8_t { Resident, UM, UMPrefetch, Stream, Auto };
const char* policy_name(Policy p);  // "resident", "um", "um-prefetch", "stream", "auto"
Policy parse_policy(const std::string& s, const std::string& what);  // BadInput on unknown names

}  // namespace ferry
