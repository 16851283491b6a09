// GPT-2's byte-level BPE tokenizer (Radford et al. 2019, "Language Models are Unsupervised
// Multitask Learners", section 2.2), loaded from a Hugging Face model directory:
//   * vocab.json + merges.txt (the classic GPT-2 files; merges.txt may start with "#version"), or
//   * tokenizer.json with model.type "BPE" (model.vocab, model.merges as "a b" or ["a", "b"]).
// Text is UTF-8 bytes; every byte is one printable character of the vocabulary (the byte ->
// Unicode table), words come from GPT-2's pre-tokenisation pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// (Unicode categories from ICU), and each word's bytes are merged pair by pair, lowest merge rank
// first (BPE, Sennrich et al. 2016). Special tokens in the text are not split out: "<|endoftext|>"
// in a prompt is encoded as plain text. Schema and notes: docs/model-format.md, "Tokenizer".
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ferry {

class Tokenizer {
 public:
  // The tokenizer of a model directory: tokenizer.json when present, else vocab.json +
  // merges.txt; std::nullopt when the directory has neither (or is not a directory).
  // Throws BadInput naming the file for a malformed or unsupported one.
  static std::optional<Tokenizer> load(const std::string& model_dir);
  static Tokenizer from_vocab_merges(const std::string& vocab_json, const std::string& merges_txt);
  static Tokenizer from_tokenizer_json(const std::string& tokenizer_json);

  // UTF-8 text -> token ids. Bytes that are not valid UTF-8 are tokenised as bytes, so
  // decode(encode(s)) == s for every s. Thread-safe (the per-word cache is locked).
  std::vector<std::int32_t> encode(std::string_view text) const;
  // Token ids -> bytes (usually UTF-8; a cut multi-byte character stays as its bytes).
  // Throws BadInput for an id that is not in the vocabulary.
  std::string decode(const std::vector<std::int32_t>& ids) const;

  bool has_id(std::int32_t id) const;
  int vocab_size() const { return static_cast<int>(id_bytes_.size()); }  // largest id + 1
  std::size_t num_merges() const { return merges_.size(); }
  const std::string& source() const { return source_; }  // the file(s) it was loaded from

  // GPT-2's pre-tokenisation of `text` into words (byte strings that concatenate to `text`).
  static std::vector<std::string> split_words(std::string_view text);

 private:
  struct Merge {
    std::int32_t rank;    // position in the merge list: lower merges first
    std::int32_t result;  // id of the merged token
  };
  struct WordCache;  // word -> ids, shared by copies, behind a mutex

  Tokenizer();
  // Builds the tables from parsed vocabulary and merges; `vocab_file` / `merges_file` name the
  // files in errors; merge_where[i] names where merge i came from ("line 3", "model.merges[2]").
  static Tokenizer build(const std::unordered_map<std::string, std::int64_t>& vocab,
                         const std::vector<std::pair<std::string, std::string>>& merges,
                         const std::vector<std::string>& merge_where, const std::string& vocab_file,
                         const std::string& merges_file);
  void bpe(std::string_view word, std::vector<std::int32_t>& out) const;

  std::vector<std::string> id_bytes_;                    // [vocab_size] bytes of each token
  std::vector<bool> id_present_;                         // [vocab_size] ids that have a token
  std::array<std::int32_t, 256> byte_id_{};              // token id of each single byte
  std::unordered_map<std::uint64_t, Merge> merges_;      // (left id << 32 | right id) -> merge
  std::shared_ptr<WordCache> cache_;
  std::string source_;
};

}  // namespace ferry
