#include "base/sysinfo.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>

#include <fstream>
#include <string>
#include <vector>

namespace ferry {
namespace {

std::uint64_t status_kib(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  const std::string k = key;
  while (std::getline(f, line)) {
    if (line.compare(0, k.size(), k) == 0) return std::stoull(line.substr(k.size())) * 1024;
  }
  return 0;
}

}  // namespace

std::uint64_t peak_rss_bytes() { return status_kib("VmHWM:"); }
std::uint64_t current_rss_bytes() { return status_kib("VmRSS:"); }

PageFaults page_faults() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return {static_cast<std::uint64_t>(ru.ru_minflt), static_cast<std::uint64_t>(ru.ru_majflt)};
}

namespace {

// The value of `key` (e.g. "read_bytes:") in a "key value" file, or -1 when absent.
long long keyed_value(const char* path, const std::string& key) {
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line))
    if (line.compare(0, key.size(), key) == 0) return std::stoll(line.substr(key.size()));
  return -1;
}

}  // namespace

std::uint64_t storage_read_bytes() {
  const long long v = keyed_value("/proc/self/io", "read_bytes:");
  return v > 0 ? static_cast<std::uint64_t>(v) : 0;
}

bool has_io_accounting() { return keyed_value("/proc/self/io", "read_bytes:") >= 0; }

std::uint64_t mapped_bytes(const void* p, std::size_t n) {
  if (p == nullptr || n == 0) return 0;
  const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<std::uintptr_t>(p) / page;
  const auto end = (reinterpret_cast<std::uintptr_t>(p) + n + page - 1) / page;
  const int fd = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  // One 64-bit entry per virtual page (Documentation/admin-guide/mm/pagemap.rst); read in chunks.
  std::vector<std::uint64_t> entries(4096);
  std::uint64_t present = 0;
  for (std::uintptr_t v = begin; v < end;) {
    const std::size_t want = std::min<std::size_t>(entries.size(), end - v);
    const ssize_t got = ::pread(fd, entries.data(), want * sizeof(std::uint64_t), static_cast<off_t>(v * sizeof(std::uint64_t)));
    if (got <= 0) break;
    const std::size_t m = static_cast<std::size_t>(got) / sizeof(std::uint64_t);
    for (std::size_t i = 0; i < m; ++i) present += entries[i] >> 63;
    v += m;
  }
  ::close(fd);
  return present * page;
}

std::uint64_t available_ram_bytes() {
  const long long kib = keyed_value("/proc/meminfo", "MemAvailable:");
  return kib > 0 ? static_cast<std::uint64_t>(kib) * 1024 : 0;
}

std::uint64_t last_level_cache_bytes() {
  std::uint64_t best = 0;
  for (int i = 0; i < 8; ++i) {
    std::ifstream f("/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/size");
    std::string v;
    if (!(f >> v) || v.empty()) continue;
    std::uint64_t n = std::stoull(v);
    if (v.back() == 'K') n <<= 10;
    if (v.back() == 'M') n <<= 20;
    best = std::max(best, n);
  }
  if (best > 0) return best;
  // sysconf reads CPUID, which in a VM may describe the host's whole package rather than the cache
  // this machine's cores share: only a fallback.
  const long sc = sysconf(_SC_LEVEL3_CACHE_SIZE);
  return sc > 0 ? static_cast<std::uint64_t>(sc) : 0;
}

std::string utc_now_iso() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace ferry
