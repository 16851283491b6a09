// Process-level facts read from the OS: resident memory and page faults.
#pragma once
#include <cstddef>
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

// Bytes this process has caused to be read from storage so far (/proc/self/io read_bytes: page
// faults, readahead and read()s that reached the block layer, not those served by the page cache).
// 0 when the kernel does not account I/O (then has_io_accounting() is false).
std::uint64_t storage_read_bytes();
bool has_io_accounting();

// Bytes of the pages of [p, p + n) that are mapped in this process's page tables now
// (/proc/self/pagemap, bit 63 "present"): for a file mapping, the pages this process faulted in.
std::uint64_t mapped_bytes(const void* p, std::size_t n);

// Host RAM the kernel reckons available to new work (MemAvailable of /proc/meminfo; 0 if unknown).
std::uint64_t available_ram_bytes();

// Size of the largest CPU cache of this machine (the last level), 0 when unknown. From sysfs
// (/sys/devices/system/cpu/cpu0/cache), else sysconf(_SC_LEVEL3_CACHE_SIZE).
std::uint64_t last_level_cache_bytes();

std::string utc_now_iso();  // "2026-11-21T14:06:13Z", for results files

}  // namespace ferry
