// GPT-2's byte-level BPE tokenizer (Radford et al. 2019, "Language Models are Unsupervised
// Multitask Learners", section 2.2), loaded from a Hugging Face model directory:
//   * vocab.json + merges.txt (the classic GPT-2 files; merges.txt may start with "#version"), or
//   * tokenizer.json with model.type "BPE" (model.vocab, model.merges as "a b" or ["a", "b"]), its
//     pre-tokenizer (GPT-2, SmolLM or LLaMA 3 style), added tokens and BOS post-processor, and
//     tokenizer_config.json beside it (bos/eos tokens, add_bos_token, chat_template):
//     models/tokenizer_hf.h.
// Text is UTF-8 bytes; every byte is one printable character of the vocabulary (the byte ->
// Unicode table), words come from GPT-2's pre-tokenisation pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// (Unicode categories from ICU), and each word's bytes are merged pair by pair, lowest merge rank
// first (BPE, Sennrich et al. 2016). Added / special tokens written in the text are matched first
// (longest match) and become single ids. Schema and notes: docs/model-format.md, "Tokenizer".
//
// SentencePiece models (Kudo & Richardson 2018; LLaMA 2, Mistral) are encoded by Google's
// libsentencepiece (models/tokenizer_spm.cpp): a Hugging Face directory's tokenizer.model, or a
// GGUF vocabulary of tokenizer.ggml.model "llama", given to the library as the ModelProto it
// describes. Control pieces written in the text (<s>, </s>) are split out first and become one id
// each; the text between them is encoded piece by piece, each with the dummy-prefix space, as
// llama.cpp and Hugging Face's LlamaTokenizer do. User-defined pieces are matched by the library.
//
// WordPiece (BERT; Devlin et al. 2019; models/tokenizer_wordpiece.cpp): tokenizer.json with
// model.type "WordPiece", or vocab.txt + tokenizer_config.json; text normalized and split as the
// `tokenizers` library's BertNormalizer and BertPreTokenizer do (models/tokenizer_bert_text.h),
// then each word greedily cut into the longest vocabulary pieces, "##" marking continuations.
// encode(text, true) gives [CLS] ... [SEP]; encode_pair gives [CLS] a [SEP] b [SEP].
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "models/tokenizer_data.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace ferry {

class Tokenizer {
 public:
  enum class Kind : std::uint8_t { ByteLevelBpe, SentencePiece, WordPiece };

  // The tokenizer of a model directory: tokenizer.model (SentencePiece, with add_bos_token /
  // add_eos_token from tokenizer_config.json when it has them: BOS yes, EOS no otherwise, as
  // LlamaTokenizer) when present, else tokenizer.json, else vocab.json + merges.txt, else vocab.txt
  // (WordPiece, with tokenizer_config.json beside it when present); std::nullopt
  // when the directory has none (or is not a directory).
  // Throws BadInput naming the file for a malformed or unsupported one.
  static std::optional<Tokenizer> load(const std::string& model_dir);
  // A SentencePiece model file (tokenizer.model). BadInput naming it when it is not one.
  static Tokenizer from_sentencepiece_model(const std::string& path, bool add_bos = true, bool add_eos = false);
  static Tokenizer from_vocab_merges(const std::string& vocab_json, const std::string& merges_txt);
  // model.type "BPE" (byte-level) or "WordPiece" (BERT).
  static Tokenizer from_tokenizer_json(const std::string& tokenizer_json);
  // BERT's vocab.txt (one token a line, id = line number, from 0), with tokenizer_config.json
  // beside it when present: do_lower_case (default true), strip_accents (default: follows
  // do_lower_case), tokenize_chinese_chars (default true), unk/cls/sep/pad/mask_token.
  static Tokenizer from_vocab_txt(const std::string& vocab_txt);
  // From a vocabulary as a GGUF file carries it. model "gpt2": byte-level BPE with the
  // pre-tokeniser named by `pre` ("gpt2"/"" GPT-2's pattern, "smollm" GPT-2's pattern after
  // splitting off every \p{N} character on its own, as llama.cpp's SMOLLM pre-type and
  // StarCoder-style tokenizer.json do, "llama-bpe" LLaMA 3's pattern). model "none":
  // std::nullopt (no tokenizer; the caller uses --ids). Anything else: BadInput naming it.
  // Tokens of token_type 3 (control) or 4 (user-defined) written in the text are matched first
  // (longest match) and become single ids.
  // model "llama": SentencePiece BPE from tokens, scores and token_type (1 normal, 2 unknown,
  // 3 control, 4 user-defined, 5 unused, 6 byte <0xNN>: byte fallback), with LLaMA's normalizer
  // (no normalization, whitespace kept, the dummy prefix when add_space_prefix).
  static std::optional<Tokenizer> from_data(const TokenizerData& data);

  Kind kind() const { return kind_; }
  // encode(text) and, with add_special, BOS first and EOS last when the model says so
  // (add_bos(), add_eos()); WordPiece: [CLS] first and [SEP] last.
  std::vector<std::int32_t> encode(std::string_view text, bool add_special) const;
  // BERT's sentence pair (question answering): [CLS] a [SEP] b [SEP]; *type_ids (when not null)
  // gets one segment id a token, 0 for [CLS] a [SEP] and 1 for b [SEP]. BadInput when the
  // vocabulary has no [CLS] or [SEP] (any tokenizer but WordPiece).
  std::vector<std::int32_t> encode_pair(std::string_view a, std::string_view b, std::vector<std::int32_t>* type_ids) const;
  // WordPiece's special tokens, -1 when absent (always -1 for the other kinds).
  std::int32_t cls_id() const { return cls_id_; }
  std::int32_t sep_id() const { return sep_id_; }
  std::int32_t mask_id() const { return mask_id_; }
  std::int32_t pad_id() const { return pad_id_; }
  std::int32_t unk_id() const { return unk_id_; }
  std::int32_t bos_id() const { return bos_id_; }  // -1 = none
  std::int32_t eos_id() const { return eos_id_; }  // -1 = none
  bool add_bos() const { return add_bos_; }
  // The chat template the model's files carry (GGUF tokenizer.chat_template, tokenizer_config.json
  // chat_template); "" when none.
  const std::string& chat_template() const { return chat_template_; }
  bool add_eos() const { return add_eos_; }
  // The id of a token given in its vocabulary form, -1 when absent.
  std::int32_t token_id(const std::string& token) const;
  // The bytes of one token on its own, in the middle of a text: a SentencePiece piece's U+2581
  // is a space, a byte piece <0xNN> the byte, a control piece its own text (as byte-level BPE's
  // special tokens), the unknown piece " \u2047 " (the library's surface for it). WordPiece: the
  // token as the vocabulary writes it ("##ing" keeps its "##"; token_text joins it).
  const std::string& token_bytes_of(std::int32_t id) const;
  // The bytes of token `id` where it follows token `prev` (-1: at the start of the text): for
  // SentencePiece with the dummy prefix, a piece's leading space is dropped at the start and after
  // a control piece (the space encode() added there); WordPiece: the token at the start, else a
  // "##" piece without its "##" and any other after a space, with the WordPiece decoder's cleanup
  // (" ." -> "."); otherwise token_bytes_of(id).
  std::string token_text(std::int32_t id, std::int32_t prev) const;

  // UTF-8 text -> token ids. Byte-level BPE: bytes that are not valid UTF-8 are tokenised as
  // bytes, so decode(encode(s)) == s for every s. SentencePiece: decode(encode(s)) == s for valid
  // UTF-8 (the library turns invalid bytes into U+FFFD). WordPiece normalizes (lowercase, accents,
  // spaces) and has [UNK], so decode(encode(s)) is only s's normalized form, spaced as BERT's
  // decoder spaces it. Thread-safe (the per-word cache is locked).
  std::vector<std::int32_t> encode(std::string_view text) const;
  // Token ids -> bytes (usually UTF-8; a cut multi-byte character stays as its bytes), the ids
  // following token `after` (-1: they start the text; see token_text).
  // Throws BadInput for an id that is not in the vocabulary.
  std::string decode(const std::vector<std::int32_t>& ids, std::int32_t after = -1) const;

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
  struct Spm;        // the SentencePiece processor (models/tokenizer_spm.cpp), shared by copies
  struct Wp;         // WordPiece's vocabulary and options (models/tokenizer_wordpiece.cpp)

  Tokenizer();
  // Builds the tables from parsed vocabulary and merges; `vocab_file` / `merges_file` name the
  // files in errors; merge_where[i] names where merge i came from ("line 3", "model.merges[2]").
  static Tokenizer build(const std::unordered_map<std::string, std::int64_t>& vocab,
                         const std::vector<std::pair<std::string, std::string>>& merges,
                         const std::vector<std::string>& merge_where, const std::string& vocab_file,
                         const std::string& merges_file, bool require_all_bytes = true);
  void bpe(std::string_view word, std::vector<std::int32_t>& out) const;
  // A SentencePiece tokenizer around a loaded processor; `where` names the source in errors.
  static Tokenizer from_processor(std::unique_ptr<sentencepiece::SentencePieceProcessor> proc,
                                  const std::string& where, bool add_dummy_prefix);
  static Tokenizer from_llama_data(const TokenizerData& data, const std::string& where);
  void spm_encode(std::string_view text, std::vector<std::int32_t>& ids) const;
  static Tokenizer from_wordpiece_json(const nlohmann::json& tj, const std::string& path);
  static Tokenizer wordpiece(std::shared_ptr<Wp> wp, const std::vector<std::string>& tokens, const std::string& where);
  void wp_encode(std::string_view text, std::vector<std::int32_t>& ids) const;
  std::string wp_token_text(std::int32_t id, std::int32_t prev) const;

  std::vector<std::string> id_bytes_;                    // [vocab_size] bytes of each token
  std::vector<bool> id_present_;                         // [vocab_size] ids that have a token
  std::array<std::int32_t, 256> byte_id_{};              // token id of each single byte
  std::unordered_map<std::uint64_t, Merge> merges_;      // (left id << 32 | right id) -> merge
  std::shared_ptr<WordCache> cache_;
  enum class Pre : std::uint8_t { Gpt2, Smollm, Llama3 };
  Pre pre_ = Pre::Gpt2;
  static Pre pre_named(const std::string& name, const std::string& where);
  void add_special(const std::string& content, std::int32_t id, const std::string& where);
  void sort_specials();
  std::string chat_template_;
  std::vector<std::pair<std::string, std::int32_t>> specials_;  // longest first
  std::unordered_map<std::string, std::int32_t> token_ids_;     // vocabulary form -> id
  std::int32_t bos_id_ = -1, eos_id_ = -1;
  bool add_bos_ = false, add_eos_ = false;
  Kind kind_ = Kind::ByteLevelBpe;
  std::shared_ptr<const Spm> spm_;        // SentencePiece only
  bool dummy_prefix_ = false;             // SentencePiece: add_dummy_prefix
  static constexpr std::uint8_t kControl = 1;       // a control piece (<s>)
  static constexpr std::uint8_t kLeadingSpace = 2;  // a text piece starting with U+2581
  std::vector<std::uint8_t> piece_flags_;  // SentencePiece: [vocab_size] kControl | kLeadingSpace
  std::shared_ptr<const Wp> wp_;          // WordPiece only
  std::int32_t cls_id_ = -1, sep_id_ = -1, mask_id_ = -1, pad_id_ = -1, unk_id_ = -1;  // WordPiece
  void encode_plain(std::string_view text, std::vector<std::int32_t>& ids) const;
  std::string source_;
};

// Streaming decode: ids one at a time -> the text complete so far. An incomplete UTF-8 sequence
// at the end is held back until the next id completes it; bytes that can never start or continue
// a character are passed through raw (as decode() does), so the concatenation of push() results
// and flush() equals decode(ids, after). flush() returns the held-back bytes raw.
// `after`: the token the streamed ids follow (the prompt's last one), -1 when they start the text;
// a SentencePiece piece keeps its leading space after a prompt (" Paris"), not at the start.
class TextStream {
 public:
  explicit TextStream(const Tokenizer& tok, std::int32_t after = -1) : tok_(&tok), prev_(after) {}
  std::string push(std::int32_t id);
  std::string flush();

 private:
  const Tokenizer* tok_;
  std::int32_t prev_;
  std::string pending_;
};

// Chat templates recognised by their text: ChatML ("<|im_start|>", with SmolLM2's default system
// message when the template carries one) and LLaMA 3 ("<|start_header_id|>"). Any other:
// BadInput "unsupported chat template (recognised: ChatML, LLaMA 3)".
class ChatTemplate {
 public:
  enum class Kind { ChatML, Llama3 };
  explicit ChatTemplate(const std::string& template_text);
  Kind kind() const { return kind_; }
  // The prompt for one user message, ending where the assistant's answer starts.
  std::string apply(const std::string& user_prompt, const std::string& bos_token) const;
  // eos plus the template's end-of-turn token ("<|im_end|>" / "<|eot_id|>") when in `tok`.
  std::vector<std::int32_t> stop_ids(const Tokenizer& tok) const;

 private:
  Kind kind_;
  std::string default_system_;  // "" = none
};

std::string apply_chat_template(const std::string& template_text, const std::string& user_prompt,
                                const std::string& bos_token);

}  // namespace ferry
