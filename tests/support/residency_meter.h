// Measures the weight bytes resident in this process from outside ferry's accounting, with the
// kernel's own figures: /proc/self/smaps ("Rss:" of the mapping of the pack file: the pages this
// process has mapped) and mincore(2) (anonymous weight buffers: their resident pages; the pack
// file's mapping: its pages in the page cache, mapped or not). Independent of ferry's code on
// purpose: it reads neither Residency nor memory/'s pagemap reader.
#pragma once
#include <atomic>
#include <cstdint>
#include <vector>

#include "memory/placement.h"

namespace ferry::test {

struct ResidencySample {
  std::uint64_t process_bytes = 0;  // weight pages mapped in the process (smaps Rss + mincore of buffers)
  std::uint64_t file_cache_bytes = 0;  // pack-file pages in the page cache (mincore of the mapping)
};
ResidencySample measure_weight_residency(const std::vector<Placement::Region>& regions);

// Keeps the largest of every sample taken (from any thread).
class ResidencyMeter {
 public:
  void sample(const std::vector<Placement::Region>& regions);
  std::uint64_t max_process_bytes() const { return max_process_.load(); }
  std::uint64_t max_file_cache_bytes() const { return max_cache_.load(); }
  int samples() const { return samples_.load(); }

 private:
  std::atomic<std::uint64_t> max_process_{0}, max_cache_{0};
  std::atomic<int> samples_{0};
};

}  // namespace ferry::test
