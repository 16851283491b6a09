// Names of the placement policies.
#include "memory/policy.h"

#include "base/error.h"

namespace ferry {

namespace {
constexpr Policy kAll[] = {Policy::Resident, Policy::UM, Policy::UMPrefetch, Policy::Stream, Policy::Auto};
}

const char* policy_name(Policy p) {
  switch (p) {
    case Policy::Resident: return "resident";
    case Policy::UM: return "um";
    case Policy::UMPrefetch: return "um-prefetch";
    case Policy::Stream: return "stream";
    case Policy::Auto: return "auto";
  }
  return "?";
}

const char* tier_name(Tier t) {
  switch (t) {
    case Tier::Device: return "device";
    case Tier::Host: return "host";
    case Tier::Disk: return "disk";
  }
  return "?";
}

Policy parse_policy(const std::string& s, const std::string& what) {
  for (Policy p : kAll)
    if (s == policy_name(p)) return p;
  std::string valid;
  for (Policy p : kAll) valid += std::string(valid.empty() ? "" : ", ") + policy_name(p);
  throw BadInput(what + ": unknown policy '" + s + "' (valid: " + valid + ")");
}

}  // namespace ferry
