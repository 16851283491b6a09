#include "tests/support/residency_meter.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace ferry::test {
namespace {

std::size_t page() { return static_cast<std::size_t>(sysconf(_SC_PAGESIZE)); }

// Resident pages of [p, p + n) by mincore: for anonymous memory, the pages in RAM; for a file
// mapping, the file's pages in the page cache.
std::uint64_t mincore_bytes(const std::byte* p, std::size_t n) {
  if (p == nullptr || n == 0) return 0;
  const auto base = reinterpret_cast<std::uintptr_t>(p) / page() * page();
  const std::size_t len = reinterpret_cast<std::uintptr_t>(p) + n - base;
  std::vector<unsigned char> v((len + page() - 1) / page());
  if (mincore(reinterpret_cast<void*>(base), len, v.data()) != 0) return 0;
  std::uint64_t pages = 0;
  for (unsigned char c : v) pages += c & 1u;
  return pages * page();
}

// "Rss:" of the VMA of /proc/self/smaps that starts at p (a pack file is mapped whole, alone).
std::uint64_t smaps_rss(const std::byte* p) {
  std::ifstream f("/proc/self/smaps");
  std::string line;
  bool in = false;
  const auto want = reinterpret_cast<std::uintptr_t>(p);
  while (std::getline(f, line)) {
    unsigned long long lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%llx-%llx ", &lo, &hi) == 2 && line.find(':') > line.find('-')) {
      in = want >= lo && want < hi;
      continue;
    }
    unsigned long long kb = 0;
    if (in && std::sscanf(line.c_str(), "Rss: %llu kB", &kb) == 1) return kb * 1024;
  }
  return 0;
}

}  // namespace

ResidencySample measure_weight_residency(const std::vector<Placement::Region>& regions) {
  ResidencySample s;
  for (const Placement::Region& r : regions) {
    if (r.file_backed) {
      s.process_bytes += smaps_rss(r.ptr);
      s.file_cache_bytes += mincore_bytes(r.ptr, r.bytes);
    } else {
      s.process_bytes += mincore_bytes(r.ptr, r.bytes);
    }
  }
  return s;
}

void ResidencyMeter::sample(const std::vector<Placement::Region>& regions) {
  const ResidencySample s = measure_weight_residency(regions);
  std::uint64_t cur = max_process_.load();
  while (s.process_bytes > cur && !max_process_.compare_exchange_weak(cur, s.process_bytes)) {
  }
  cur = max_cache_.load();
  while (s.file_cache_bytes > cur && !max_cache_.compare_exchange_weak(cur, s.file_cache_bytes)) {
  }
  ++samples_;
}

}  // namespace ferry::test
