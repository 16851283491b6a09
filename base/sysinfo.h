// Process-level facts read from the OS: resident memory and page faults.
#pragma once
#include <cstdint>
#include <string>

namespace ferry {

std::uint64_t peak_rss_bytes();     // VmHWM of this process (0 when unknown)
std::uint64_t current_rss_bytes();  // VmRSS of this process (0 when unknown)

struct PageFaults {
  std::uint64_t minor = 0;  // served from memory (page cache, zero pages)
  std::uint64_t major = 0;  // needed I/O
};
PageFaults page_faults();  // of this process so far (getrusage)

std::string utc_now_iso();  // "2026-11-21T14:06:13Z", for results files

}  // namespace ferry
