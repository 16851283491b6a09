#include "base/units.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <limits>

#include "base/error.h"

namespace ferry {

static double parse_number(const std::string& s, std::size_t& pos, const std::string& what) {
  std::size_t i = 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
  if (i == 0) throw BadInput(what + ": '" + s + "' is not a size (expected e.g. 2GiB, 512MiB or 25%)");
  try {
    pos = i;
    return std::stod(s.substr(0, i));
  } catch (...) {
    throw BadInput(what + ": '" + s + "' is not a number");
  }
}

std::uint64_t parse_bytes(const std::string& s, const std::string& what) {
  std::size_t pos = 0;
  const double v = parse_number(s, pos, what);
  std::string unit;
  for (std::size_t i = pos; i < s.size(); ++i)
    if (!std::isspace(static_cast<unsigned char>(s[i]))) unit += static_cast<char>(std::tolower(s[i]));
  double mul = 0;
  if (unit.empty() || unit == "b") mul = 1;
  else if (unit == "k" || unit == "kib") mul = 1024.0;
  else if (unit == "m" || unit == "mib") mul = 1024.0 * 1024;
  else if (unit == "g" || unit == "gib") mul = 1024.0 * 1024 * 1024;
  else if (unit == "t" || unit == "tib") mul = 1024.0 * 1024 * 1024 * 1024;
  else if (unit == "kb") mul = 1e3;
  else if (unit == "mb") mul = 1e6;
  else if (unit == "gb") mul = 1e9;
  else if (unit == "tb") mul = 1e12;
  else throw BadInput(what + ": unknown unit '" + unit + "' in '" + s + "' (use B, KiB, MiB, GiB, TiB, KB, MB, GB)");
  const double bytes = v * mul;
  if (!(bytes >= 0) || bytes > 1.8e19) throw BadInput(what + ": '" + s + "' is out of range");
  return static_cast<std::uint64_t>(std::llround(bytes));
}

BudgetSpec parse_budget(const std::string& s, const std::string& what, bool allow_zero) {
  BudgetSpec b;
  b.set = true;
  if (!s.empty() && s.back() == '%') {
    std::size_t pos = 0;
    const std::string num = s.substr(0, s.size() - 1);
    b.percent = true;
    b.value = parse_number(num, pos, what);
    if (pos != num.size()) throw BadInput(what + ": '" + s + "' is not a percentage");
    if ((allow_zero ? b.value < 0 : b.value <= 0) || b.value > 100)
      throw BadInput(what + ": percentage must be in " + (allow_zero ? "[0" : "(0") + ", 100], got '" + s + "'");
    return b;
  }
  b.value = static_cast<double>(parse_bytes(s, what));
  if (b.value <= 0 && !allow_zero) throw BadInput(what + ": budget must be positive");
  return b;
}

std::uint64_t BudgetSpec::resolve(std::uint64_t reference_bytes) const {
  if (!set) return std::numeric_limits<std::uint64_t>::max();
  if (percent) return static_cast<std::uint64_t>(std::floor(static_cast<double>(reference_bytes) * value / 100.0));
  return static_cast<std::uint64_t>(value);
}

std::string BudgetSpec::str() const {
  if (!set) return "unlimited";
  if (percent) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g%%", value);
    return buf;
  }
  return format_bytes(static_cast<std::uint64_t>(value));
}

std::string format_bytes(std::uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024.0 && u < 4) {
    v /= 1024.0;
    ++u;
  }
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  else std::snprintf(buf, sizeof buf, "%.2f %s", v, units[u]);
  return buf;
}

}  // namespace ferry
