#include "runtime/prompts.h"

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>

#include "base/error.h"

namespace ferry {

std::vector<std::vector<std::int32_t>> parse_prompt_ids(const std::string& text, const std::string& what) {
  std::vector<std::vector<std::int32_t>> out;
  std::istringstream in(text);
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    for (char& c : line)
      if (c == ',' || c == '\t' || c == '\r') c = ' ';
    std::istringstream ls(line);
    std::vector<std::int32_t> ids;
    std::string tok;
    while (ls >> tok) {
      char* end = nullptr;
      errno = 0;
      const long long v = std::strtoll(tok.c_str(), &end, 10);
      if (end == tok.c_str() || *end != '\0' || errno == ERANGE || v < 0 ||
          v > std::numeric_limits<std::int32_t>::max())
        throw BadInput(what + ":" + std::to_string(lineno) + ": '" + tok +
                       "' is not a token id (expected non-negative integers separated by spaces)");
      ids.push_back(static_cast<std::int32_t>(v));
    }
    if (!ids.empty()) out.push_back(std::move(ids));
  }
  if (out.empty()) throw BadInput(what + ": no prompt in it (expected one sequence of token ids per line)");
  return out;
}

std::vector<std::vector<std::int32_t>> read_prompt_ids_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw BadInput("--prompt-file " + path + ": cannot open the file");
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_prompt_ids(ss.str(), path);
}

}  // namespace ferry
