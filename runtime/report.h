// Formatting of run results: the JSON of `ferry run --json` and the human-readable summary.
#pragma once
#include <cstdio>
#include <nlohmann/json.hpp>

#include "runtime/engine.h"

namespace ferry {

// {"model": {...}, "config": {...}, "plan": {...}, "machine": {...},
//  "sequences": [{"prompt_ids": [...], "generated_ids": [...]}], "stats": {...}}
nlohmann::json result_json(const Engine& engine, const GenerateRequest& req, const GenerateResult& res);
nlohmann::json stats_json(const RunStats& st);
// {"link_bps", "memory_bps", "prefill_fraction", "decode_fraction", "limited_by", "steps": [...]},
// or null when the run had no probe (stats_json puts it under "bound").
nlohmann::json bound_json(const RunStats& st);
nlohmann::json plan_json(const Plan& plan);
nlohmann::json machine_json(const Backend& backend);  // device name, host, commit
void print_result_text(const Engine& engine, const GenerateResult& res, std::FILE* out);
const char* git_commit();  // the commit ferry was configured at

}  // namespace ferry
