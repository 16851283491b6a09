// Residency: device-resident weight bytes under a hard budget.
#include "memory/residency.h"

#include <algorithm>
#include <string>
#include <utility>

#include "base/error.h"
#include "base/units.h"

namespace ferry {

Residency::Residency(std::uint64_t budget_bytes, std::vector<std::uint64_t> pack_bytes)
    : budget_(budget_bytes), bytes_(std::move(pack_bytes)), resident_(bytes_.size(), false) {}

void Residency::on_fetch(int pack, std::uint64_t moved) {
  FERRY_CHECK(pack >= 0 && pack < packs(), "Residency::on_fetch: pack " + std::to_string(pack) + " out of range");
  const auto i = static_cast<std::size_t>(pack);
  if (resident_[i]) throw InternalError("Residency: pack " + std::to_string(pack) + " fetched while already resident");
  if (bytes_[i] > budget_ || current_ > budget_ - bytes_[i])
    throw InternalError("Residency: fetching pack " + std::to_string(pack) + " (" + format_bytes(bytes_[i]) +
                        ") with " + format_bytes(current_) + " resident would exceed the budget of " +
                        format_bytes(budget_));
  resident_[i] = true;
  current_ += bytes_[i];
  peak_ = std::max(peak_, current_);
  h2d_ += moved;
  h2d_total_ += moved;
  ++fetches_;
}

void Residency::on_evict(int pack, std::uint64_t moved) {
  FERRY_CHECK(pack >= 0 && pack < packs(), "Residency::on_evict: pack " + std::to_string(pack) + " out of range");
  const auto i = static_cast<std::size_t>(pack);
  if (!resident_[i]) throw InternalError("Residency: pack " + std::to_string(pack) + " evicted while not resident");
  resident_[i] = false;
  current_ -= bytes_[i];
  d2h_ += moved;
  ++evictions_;
}

void Residency::reset_counters() { h2d_ = d2h_ = fetches_ = evictions_ = 0; }

}  // namespace ferry
