// Whole small files read for the parsers of models/ (tokenizer files, tokenizer_config.json): a
// one-line BadInput naming the file when it cannot be opened, read or parsed.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace ferry {

std::string read_file(const std::string& path);          // the bytes; BadInput "PATH: cannot open"
nlohmann::json parse_json_file(const std::string& path);  // BadInput "PATH: invalid JSON: ..."

}  // namespace ferry
