// Residency: the accounting of device-resident weight bytes under the budget. The budget is a hard
// bound: a fetch that would exceed it throws (the planner must never let that happen), and the peak
// is recorded so tests and `stats` can show it was honoured at every step.
// Used from one host thread (the one issuing the pipeline), in the order the streams will execute.
#pragma once
#include <cstdint>
#include <vector>

namespace ferry {

class Residency {
 public:
  Residency(std::uint64_t budget_bytes, std::vector<std::uint64_t> pack_bytes);

  // Marks pack resident; `moved` bytes crossed host -> device. Throws InternalError when the
  // pack is already resident or the budget would be exceeded.
  void on_fetch(int pack, std::uint64_t moved);
  // Marks pack no longer resident; `moved` bytes crossed device -> host.
  void on_evict(int pack, std::uint64_t moved);

  bool resident(int pack) const { return resident_.at(static_cast<std::size_t>(pack)); }
  std::uint64_t budget() const { return budget_; }
  std::uint64_t resident_bytes() const { return current_; }
  std::uint64_t peak_bytes() const { return peak_; }
  std::uint64_t bytes_h2d() const { return h2d_; }
  std::uint64_t bytes_d2h() const { return d2h_; }
  std::uint64_t fetches() const { return fetches_; }
  std::uint64_t evictions() const { return evictions_; }
  std::uint64_t pack_bytes(int pack) const { return bytes_.at(static_cast<std::size_t>(pack)); }
  int packs() const { return static_cast<int>(bytes_.size()); }
  void reset_counters();  // h2d, d2h, fetches, evictions (not residency, not peak)
  std::uint64_t bytes_h2d_total() const { return h2d_total_; }  // since construction, never reset

 private:
  std::uint64_t budget_;
  std::vector<std::uint64_t> bytes_;
  std::vector<bool> resident_;
  std::uint64_t current_ = 0, peak_ = 0, h2d_ = 0, d2h_ = 0, fetches_ = 0, evictions_ = 0, h2d_total_ = 0;
};

}  // namespace ferry
