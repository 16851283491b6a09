// Helpers of the experiment tests: a fixed probe file (so the bound columns are filled without
// measuring anything), results files, and matplotlib detection.
#pragma once
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "memory/probe.h"
#include "tests/support/test_util.h"

namespace ferry::test {

// A CPU probe with round numbers: 1 GB/s links, 10 GB/s memory.
inline void write_fixed_probe(const std::filesystem::path& path) {
  ProbeResult p;
  p.device = "cpu";
  p.device_name = "test";
  p.commit = "test";
  p.when = "2026-01-01T00:00:00Z";
  p.host = "test";
  p.bytes = 1 << 20;
  p.repeats = 1;
  p.h2d_bps = p.d2h_bps = p.managed_prefetch_bps = p.fault_bps = 1e9;
  p.device_bps = 1e10;
  save_probe(p, path.string());
}

inline nlohmann::json read_json_file(const std::filesystem::path& p) { return nlohmann::json::parse(read_text(p)); }

// Lines of a CSV file, each split at commas (the tests' files have no quoted commas in the header).
inline std::vector<std::vector<std::string>> read_csv(const std::filesystem::path& p) {
  std::vector<std::vector<std::string>> rows;
  std::stringstream ss(read_text(p));
  std::string line;
  while (std::getline(ss, line)) {
    std::vector<std::string> cells;
    std::string cell;
    bool quoted = false;
    for (char c : line) {
      if (c == '"') quoted = !quoted;
      else if (c == ',' && !quoted) {
        cells.push_back(cell);
        cell.clear();
      } else {
        cell += c;
      }
    }
    cells.push_back(cell);
    rows.push_back(cells);
  }
  return rows;
}

inline bool system_python_has_matplotlib() {
  return std::system("/usr/bin/python3 -c 'import matplotlib' >/dev/null 2>&1") == 0;
}

inline std::string quoted(const std::filesystem::path& p) { return shell_quote(p); }

// A number > 0 (fails with the column's name otherwise).
inline ::testing::AssertionResult positive(const nlohmann::json& row, const std::string& col) {
  if (!row.contains(col)) return ::testing::AssertionFailure() << col << " missing";
  if (!row[col].is_number()) return ::testing::AssertionFailure() << col << " is not a number: " << row[col].dump();
  if (!(row[col].get<double>() > 0)) return ::testing::AssertionFailure() << col << " = " << row[col].dump() << " <= 0";
  return ::testing::AssertionSuccess();
}

}  // namespace ferry::test
