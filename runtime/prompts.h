// Prompt input: token-id files (`--prompt-file F --ids`) and inline id lists, and the checks every
// batch of token ids passes before a run (Engine::generate and Engine::encode).
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

// The longest sequence and the token count of a batch.
struct TokenBatchShape {
  int max_len = 0;
  std::int64_t total = 0;
};
// Checks a batch of token-id sequences called `what` ("prompt", "input"): BadInput for an empty
// batch ("no <what>s: the batch is empty"), an empty sequence ("<what> N is empty") or an id outside
// [0, vocab) ("<what> N: token id X is out of range for vocab size V"), N counted from 1.
// The index of each sequence's first token in the batch's tokens concatenated in input order (the
// [CLS] rows of an encoder's output).
std::vector<std::int64_t> first_token_rows(const std::vector<std::vector<std::int32_t>>& seqs);

TokenBatchShape check_token_batch(const std::vector<std::vector<std::int32_t>>& seqs, const std::string& what, int vocab);

}  // namespace ferry
