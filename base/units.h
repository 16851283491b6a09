// Parsing and printing of byte sizes and budgets as users write them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace ferry {

// "2GiB", "512MiB", "1.5GB", "4096" (bytes), "64k". Throws BadInput naming `what`.
std::uint64_t parse_bytes(const std::string& s, const std::string& what);

// A budget: absolute bytes or a percentage of a reference ("25%"). Unset means "no limit".
struct BudgetSpec {
  bool set = false;
  bool percent = false;
  double value = 0;  // bytes or percent
  std::uint64_t resolve(std::uint64_t reference_bytes) const;  // UINT64_MAX when unset
  std::string str() const;
};
// A size or a percentage; `allow_zero` for bounds where nothing is meaningful (--host-budget 0:
// every streamed layer comes from disk).
BudgetSpec parse_budget(const std::string& s, const std::string& what, bool allow_zero = false);

std::string format_bytes(std::uint64_t bytes);  // "1.50 GiB", "12.0 MiB", "512 B"

}  // namespace ferry
