#include "base/sysinfo.h"

#include <sys/resource.h>

#include <ctime>

#include <fstream>
#include <string>

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

std::string utc_now_iso() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace ferry
