#include "runtime/bench/table.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "base/error.h"
#include "base/units.h"

namespace ferry::bench {

using nlohmann::json;

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string human(const std::string& column, const json& v) {
  if (v.is_number() && ends_with(column, "_bytes")) return format_bytes(v.get<std::uint64_t>());
  if (v.is_number() && ends_with(column, "_bps")) return format_bytes(static_cast<std::uint64_t>(std::max(0.0, v.get<double>()))) + "/s";
  return cell_text(v);
}

std::string csv_quote(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + "\"";
}

}  // namespace

std::string cell_text(const json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_integer()) return v.dump();
  if (v.is_number()) {
    const double d = v.get<double>();
    if (std::isfinite(d) && d == std::round(d) && std::fabs(d) < 1e15) return std::to_string(static_cast<long long>(d));
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", d);
    return buf;
  }
  return v.dump();
}

void write_csv(const std::string& path, const std::vector<std::string>& columns, const json& rows) {
  std::ofstream f(path);
  if (!f) throw BadInput("cannot write " + path);
  for (std::size_t i = 0; i < columns.size(); ++i) f << (i ? "," : "") << csv_quote(columns[i]);
  f << '\n';
  for (const json& r : rows) {
    for (std::size_t i = 0; i < columns.size(); ++i) {
      const auto it = r.find(columns[i]);
      f << (i ? "," : "") << csv_quote(it == r.end() ? std::string() : cell_text(*it));
    }
    f << '\n';
  }
  if (!f) throw BadInput("cannot write " + path);
}

void write_json(const std::string& path, const json& doc) {
  std::ofstream f(path);
  if (!f) throw BadInput("cannot write " + path);
  f << doc.dump(2) << '\n';
  if (!f) throw BadInput("cannot write " + path);
}

json read_json(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw BadInput(path + ": cannot read the file");
  std::stringstream ss;
  ss << f.rdbuf();
  try {
    return json::parse(ss.str());
  } catch (const json::exception& e) {
    throw BadInput(path + ": not valid JSON (" + e.what() + ")");
  }
}

std::string format_table(const std::vector<std::string>& columns, const json& rows) {
  std::vector<std::vector<std::string>> cells;
  std::vector<std::size_t> width;
  for (const std::string& c : columns) width.push_back(c.size());
  for (const json& r : rows) {
    std::vector<std::string> line;
    for (std::size_t i = 0; i < columns.size(); ++i) {
      const auto it = r.find(columns[i]);
      line.push_back(it == r.end() ? std::string() : human(columns[i], *it));
      width[i] = std::max(width[i], line.back().size());
    }
    cells.push_back(std::move(line));
  }
  std::string out;
  auto pad = [&](const std::string& s, std::size_t w, bool right) {
    const std::string fill(w > s.size() ? w - s.size() : 0, ' ');
    return right ? fill + s : s + fill;
  };
  // Lines end without padding.
  auto trim = [](std::string& s) {
    while (!s.empty() && s.back() == ' ') s.pop_back();
  };
  std::string line;
  for (std::size_t i = 0; i < columns.size(); ++i) line += (i ? "  " : "") + pad(columns[i], width[i], false);
  trim(line);
  out += line + '\n';
  for (std::size_t r = 0; r < cells.size(); ++r) {
    line.clear();
    for (std::size_t i = 0; i < columns.size(); ++i) {
      const auto it = rows[r].find(columns[i]);
      const bool right = it != rows[r].end() && it->is_number();
      line += (i ? "  " : "") + pad(cells[r][i], width[i], right);
    }
    trim(line);
    out += line + '\n';
  }
  return out;
}

json compare_rows(const json& old_doc, const json& now_doc, const std::vector<std::string>& key_columns,
                  const std::vector<std::string>& metrics) {
  auto key_of = [&](const json& row) {
    json k = json::object();
    for (const std::string& c : key_columns) k[c] = row.contains(c) ? row[c] : json(nullptr);
    return k.dump();
  };
  const json empty = json::array();
  const json& old_rows = old_doc.contains("points") ? old_doc["points"] : empty;
  const json& now_rows = now_doc.contains("points") ? now_doc["points"] : empty;
  json out = {{"matched", 0}, {"unmatched", 0}, {"rows", json::array()}};
  for (const json& row : now_rows) {
    const std::string key = key_of(row);
    const json* match = nullptr;
    for (const json& o : old_rows)
      if (key_of(o) == key) {
        match = &o;
        break;
      }
    json r = json::object();
    for (const std::string& c : key_columns) r[c] = row.contains(c) ? row[c] : json(nullptr);
    if (!match) {
      r["match"] = false;
      out["unmatched"] = out["unmatched"].get<int>() + 1;
      out["rows"].push_back(r);
      continue;
    }
    r["match"] = true;
    json ratios = json::object();
    for (const std::string& m : metrics) {
      const bool ok = row.contains(m) && match->contains(m) && row[m].is_number() && (*match)[m].is_number() &&
                      (*match)[m].get<double>() != 0;
      ratios[m] = ok ? json(row[m].get<double>() / (*match)[m].get<double>()) : json(nullptr);
    }
    r["ratios"] = ratios;
    out["matched"] = out["matched"].get<int>() + 1;
    out["rows"].push_back(r);
  }
  return out;
}

std::string format_comparison(const json& cmp, const std::vector<std::string>& key_columns,
                              const std::vector<std::string>& metrics) {
  std::vector<std::string> columns = key_columns;
  for (const std::string& m : metrics) columns.push_back(m);
  json rows = json::array();
  for (const json& r : cmp["rows"]) {
    json line = json::object();
    for (const std::string& c : key_columns) line[c] = r[c];
    for (const std::string& m : metrics) {
      if (!r["match"].get<bool>()) {
        line[m] = "new";
        continue;
      }
      const json& v = r["ratios"][m];
      char buf[32] = "-";
      if (v.is_number()) std::snprintf(buf, sizeof buf, "%.3fx", v.get<double>());
      line[m] = buf;
    }
    rows.push_back(line);
  }
  return format_table(columns, rows);
}

}  // namespace ferry::bench
