// The managed-memory guard and the size of the managed region (see placement_cuda.h). Host-only
// code, built with or without CUDA, so the guard's rule and message are tested on any machine.
#include <algorithm>
#include <string>

#include "base/error.h"
#include "base/units.h"
#include "memory/buffer.h"
#include "memory/placement_cuda.h"

namespace ferry {

std::uint64_t managed_region_bytes(const std::vector<std::size_t>& pack_bytes) {
  std::uint64_t total = 0;
  for (std::size_t b : pack_bytes) total += align_up(b, kPackAlign);
  return total + kPackAlign;
}

void check_managed_fits(std::uint64_t managed_bytes, std::uint64_t free_bytes, std::uint64_t limit_bytes,
                        bool allow_oversubscribe) {
  const bool limited = limit_bytes != 0 && limit_bytes < free_bytes;
  const std::uint64_t room = limited ? limit_bytes : free_bytes;
  if (managed_bytes <= room || allow_oversubscribe) return;
  throw ResourceExhausted("managed weights " + format_bytes(managed_bytes) + " exceed the device's free memory " +
                          format_bytes(room) + (limited ? " (--gpu-mem-limit)" : "") +
                          "; use --budget to apply pressure, --policy stream, or --allow-oversubscribe "
                          "(can hang some machines)");
}

}  // namespace ferry
