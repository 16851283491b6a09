#include "runtime/prompts.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>

#include "base/error.h"

namespace ferry {

std::vector<std::int64_t> first_token_rows(const std::vector<std::vector<std::int32_t>>& seqs) {
  std::vector<std::int64_t> rows;
  std::int64_t row = 0;
  for (const auto& s : seqs) {
    rows.push_back(row);
    row += static_cast<std::int64_t>(s.size());
  }
  return rows;
}

TokenBatchShape check_token_batch(const std::vector<std::vector<std::int32_t>>& seqs, const std::string& what, int vocab) {
  if (seqs.empty()) throw BadInput("no " + what + "s: the batch is empty");
  TokenBatchShape shape;
  for (std::size_t b = 0; b < seqs.size(); ++b) {
    const std::string which = what + " " + std::to_string(b + 1);
    if (seqs[b].empty()) throw BadInput(which + " is empty");
    for (std::int32_t id : seqs[b])
      if (id < 0 || id >= vocab)
        throw BadInput(which + ": token id " + std::to_string(id) + " is out of range for vocab size " + std::to_string(vocab));
    shape.max_len = std::max(shape.max_len, static_cast<int>(seqs[b].size()));
    shape.total += static_cast<std::int64_t>(seqs[b].size());
  }
  return shape;
}

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
