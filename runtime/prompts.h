// Prompt input: token-id files (`--prompt-file F --ids`) and inline id lists.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ferry {

// One sequence per non-blank line, token ids separated by spaces (or tabs / commas).
// Throws BadInput naming the file and line for a non-integer or negative token, and for a file
// that cannot be read or holds no sequence.
std::vector<std::vector<std::int32_t>> read_prompt_ids_file(const std::string& path);
// The same for text given inline (e.g. `--prompt "464 2068 7586" --ids`); `what` names the source.
std::vector<std::vector<std::int32_t>> parse_prompt_ids(const std::string& text, const std::string& what);

}  // namespace ferry
