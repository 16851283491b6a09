// Results tables of `ferry pressure` and `ferry bench`: rows are flat JSON objects; a table is
// written as CSV (fixed columns, null = empty cell) and as JSON {"meta": ..., "points": [rows]},
// printed as aligned text, and compared with an earlier run's JSON row by row.
#pragma once
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ferry::bench {

// One cell as text: numbers in a short form (integers exact, others with 6 significant digits),
// strings as they are, null as "".
std::string cell_text(const nlohmann::json& v);

// Writes rows as CSV with a header of `columns` (RFC 4180 quoting). Throws BadInput naming the path
// when it cannot be written.
void write_csv(const std::string& path, const std::vector<std::string>& columns, const nlohmann::json& rows);
// Writes `doc` as pretty JSON. Throws BadInput naming the path when it cannot be written.
void write_json(const std::string& path, const nlohmann::json& doc);
// Reads a JSON file; BadInput naming the path when it is missing or malformed.
nlohmann::json read_json(const std::string& path);

// An aligned text table of `columns` (header + one line per row); numbers right-aligned, byte
// counts (columns ending in "_bytes") and bandwidths ("_bps") in human units.
std::string format_table(const std::vector<std::string>& columns, const nlohmann::json& rows);

// For every row of `now` whose key columns match a row of `old` (both {"points": [...]} documents),
// the ratio now / old of each numeric metric present in both; rows without a match are listed as
// "new". Returns {"matched": n, "unmatched": m, "rows": [{key..., "ratios": {metric: ratio|null}}]}.
nlohmann::json compare_rows(const nlohmann::json& old_doc, const nlohmann::json& now_doc,
                            const std::vector<std::string>& key_columns, const std::vector<std::string>& metrics);
// The comparison as an aligned text table (key columns, then one column per metric: "1.07x").
std::string format_comparison(const nlohmann::json& cmp, const std::vector<std::string>& key_columns,
                              const std::vector<std::string>& metrics);

}  // namespace ferry::bench
