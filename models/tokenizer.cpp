// GPT-2 byte-level BPE (models/tokenizer.h). Written from the algorithm descriptions in Radford et
// al. 2019, section 2.2 (byte-level BPE, the byte -> printable character table, pre-tokenisation
// so merges never cross word classes) and Sennrich et al. 2016, section 3.2 (BPE merges); the
// file formats are those of Hugging Face model directories (vocab.json / merges.txt and
// tokenizer.json). Unicode general categories and White_Space come from ICU.
#include "models/tokenizer.h"

#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "models/file_text.h"
#include "models/tokenizer_hf.h"

namespace ferry {

namespace fs = std::filesystem;
using nlohmann::json;

struct Tokenizer::WordCache {
  std::mutex mu;
  std::unordered_map<std::string, std::vector<std::int32_t>> words;
};

namespace {

constexpr std::int64_t kMaxTokenId = std::int64_t{1} << 24;  // far above any real vocabulary
// The tables are indexed by id, so unused ids cost memory: a 20-byte vocabulary {"a": 16777215}
// must not allocate half a gigabyte. Real vocabularies number their tokens densely.
constexpr std::int64_t kMaxUnusedIds = std::int64_t{1} << 16;
constexpr std::size_t kMaxCachedWords = std::size_t{1} << 16;  // the cache starts over beyond this

// ---- the byte <-> character table ------------------------------------------------------------
// Printable bytes stand for themselves; the 68 others (0x00-0x20, 0x7F-0xA0, 0xAD) get the code
// points 256, 257, ... in byte order, so every token of the vocabulary is a printable string.
constexpr int kTableChars = 256 + 68;

constexpr bool printable_byte(int b) {
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

struct ByteTable {
  std::array<UChar32, 256> to_char{};             // byte -> code point
  std::array<std::int16_t, kTableChars> to_byte{};  // code point -> byte, -1 when none
  ByteTable() {
    to_byte.fill(-1);
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      const UChar32 c = printable_byte(b) ? b : 256 + extra++;
      to_char[static_cast<std::size_t>(b)] = c;
      to_byte[static_cast<std::size_t>(c)] = static_cast<std::int16_t>(b);
    }
  }
};

const ByteTable& byte_table() {
  static const ByteTable t;
  return t;
}

void append_utf8(std::string& out, UChar32 c) {
  std::array<std::uint8_t, U8_MAX_LENGTH> buf{};
  std::int32_t n = 0;
  U8_APPEND_UNSAFE(buf.data(), n, c);
  out.append(reinterpret_cast<const char*>(buf.data()), static_cast<std::size_t>(n));
}

// A token's string (characters of the table) -> the bytes it stands for. A character outside
// the table (e.g. in a special token) stands for its own UTF-8 bytes.
std::string token_bytes(const std::string& token) {
  const ByteTable& t = byte_table();
  const auto* p = reinterpret_cast<const std::uint8_t*>(token.data());
  const auto n = static_cast<std::int64_t>(token.size());
  std::string out;
  std::int64_t i = 0;
  while (i < n) {
    const std::int64_t begin = i;
    UChar32 c = 0;
    U8_NEXT(p, i, n, c);
    if (c >= 0 && c < kTableChars && t.to_byte[static_cast<std::size_t>(c)] >= 0)
      out.push_back(static_cast<char>(t.to_byte[static_cast<std::size_t>(c)]));
    else
      out.append(token, static_cast<std::size_t>(begin), static_cast<std::size_t>(i - begin));
  }
  return out;
}

// ---- pre-tokenisation -------------------------------------------------------------------------
// The classes the pattern distinguishes: \p{L} (general category L*), \p{N} (N*), \s (the
// White_Space property), and everything else (bytes that are not valid UTF-8 included).
enum class Cls : std::uint8_t { Letter, Number, Space, Other };

Cls classify(UChar32 c) {
  if (c < 0) return Cls::Other;
  if (u_isUWhiteSpace(c)) return Cls::Space;
  const std::uint32_t gc = U_GET_GC_MASK(c);
  if (gc & U_GC_L_MASK) return Cls::Letter;
  if (gc & U_GC_N_MASK) return Cls::Number;
  return Cls::Other;
}

struct Unit {
  std::size_t begin;  // byte offset
  std::size_t end;
  UChar32 cp;         // < 0 for an ill-formed byte sequence
  Cls cls;
};

std::vector<Unit> units_of(std::string_view s) {
  std::vector<Unit> u;
  u.reserve(s.size());
  const auto* p = reinterpret_cast<const std::uint8_t*>(s.data());
  const auto n = static_cast<std::int64_t>(s.size());
  std::int64_t i = 0;
  while (i < n) {
    const std::int64_t begin = i;
    UChar32 c = 0;
    U8_NEXT(p, i, n, c);
    u.push_back({static_cast<std::size_t>(begin), static_cast<std::size_t>(i), c, classify(c)});
  }
  return u;
}

// Calls emit(word) for each match of
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// from left to right. The alternatives are tried in order at each position, as a backtracking
// regex engine does; every character is in exactly one class, so the matches tile the text.
template <class Emit>
void gpt2_words(std::string_view s, const std::vector<Unit>& u, std::size_t i0, std::size_t n, Emit&& emit) {
  const auto is = [&](std::size_t k, char c) { return k < n && u[k].cp == static_cast<UChar32>(c); };
  const auto run_end = [&](std::size_t k, Cls c) {
    while (k < n && u[k].cls == c) ++k;
    return k;
  };
  std::size_t i = i0;
  while (i < n) {
    std::size_t j = i;
    if (is(i, '\'') && (is(i + 1, 's') || is(i + 1, 't') || is(i + 1, 'm') || is(i + 1, 'd'))) {
      j = i + 2;
    } else if (is(i, '\'') && ((is(i + 1, 'r') && is(i + 2, 'e')) || (is(i + 1, 'v') && is(i + 2, 'e')) ||
                               (is(i + 1, 'l') && is(i + 2, 'l')))) {
      j = i + 3;
    } else {
      // " ?X+" for X in letters, numbers, other: an optional U+0020, then a run of one class.
      const std::size_t start = is(i, ' ') ? i + 1 : i;
      if (start < n && u[start].cls != Cls::Space) {
        j = run_end(start, u[start].cls);
      } else {
        // \s+(?!\S): the longest whitespace run that is not followed by a non-space, i.e. the
        // whole run at the end of the text, else the run less its last character; \s+ otherwise.
        const std::size_t k = run_end(i, Cls::Space);
        j = (k == n || k - i < 2) ? k : k - 1;
      }
    }
    FERRY_CHECK(j > i, "pre-tokenisation made no progress");
    emit(s.substr(u[i].begin, u[j - 1].end - u[i].begin));
    i = j;
  }
}

bool is_newline(const Unit& x) { return x.cp == '\r' || x.cp == '\n'; }
char lower_ascii(UChar32 c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : static_cast<char>(c); }

// LLaMA 3's pattern (the "llama-bpe" pre-type), alternatives tried in order at each position:
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
//   \s*[\r\n]+|\s+(?!\S)|\s+
template <class Emit>
void llama3_words(std::string_view s, Emit&& emit) {
  const std::vector<Unit> u = units_of(s);
  const std::size_t n = u.size();
  const auto lo = [&](std::size_t k, char c) { return k < n && u[k].cp >= 0 && u[k].cp < 128 && lower_ascii(u[k].cp) == c; };
  const auto run_end = [&](std::size_t k, Cls c) {
    while (k < n && u[k].cls == c) ++k;
    return k;
  };
  std::size_t i = 0;
  while (i < n) {
    std::size_t j = i;
    if (lo(i, '\'') && (lo(i + 1, 's') || lo(i + 1, 't') || lo(i + 1, 'm') || lo(i + 1, 'd'))) {
      j = i + 2;
    } else if (lo(i, '\'') && ((lo(i + 1, 'r') && lo(i + 2, 'e')) || (lo(i + 1, 'v') && lo(i + 2, 'e')) ||
                               (lo(i + 1, 'l') && lo(i + 2, 'l')))) {
      j = i + 3;
    } else if (u[i].cls == Cls::Letter) {
      j = run_end(i, Cls::Letter);
    } else if (u[i].cls != Cls::Number && !is_newline(u[i]) && i + 1 < n && u[i + 1].cls == Cls::Letter) {
      j = run_end(i + 1, Cls::Letter);
    } else if (u[i].cls == Cls::Number) {
      j = i + 1;
      while (j < n && j < i + 3 && u[j].cls == Cls::Number) ++j;
    } else {
      const std::size_t start = (u[i].cp == ' ') ? i + 1 : i;
      if (start < n && u[start].cls == Cls::Other) {
        j = run_end(start, Cls::Other);
        while (j < n && is_newline(u[j])) ++j;
      } else {
        const std::size_t k = run_end(i, Cls::Space);  // u[i] is a space here
        std::size_t last_nl = n;
        for (std::size_t p = i; p < k; ++p)
          if (is_newline(u[p])) last_nl = p;
        if (last_nl != n) j = last_nl + 1;                    // \s*[\r\n]+
        else j = (k == n || k - i < 2) ? k : k - 1;          // \s+(?!\S) | \s+
      }
    }
    FERRY_CHECK(j > i, "pre-tokenisation made no progress");
    emit(s.substr(u[i].begin, u[j - 1].end - u[i].begin));
    i = j;
  }
}

enum class PreKind : std::uint8_t { Gpt2, Smollm, Llama3 };

template <class Emit>
void for_each_word(std::string_view s, Emit&& emit, PreKind pre = PreKind::Gpt2) {
  if (pre == PreKind::Llama3) return llama3_words(s, emit);
  const std::vector<Unit> u = units_of(s);
  if (pre == PreKind::Gpt2) return gpt2_words(s, u, 0, u.size(), emit);
  // smollm: every \p{N} character is a word of its own; GPT-2's pattern runs between them.
  std::size_t a = 0;
  for (std::size_t k = 0; k <= u.size(); ++k) {
    if (k == u.size() || u[k].cls == Cls::Number) {
      if (k > a) gpt2_words(s, u, a, k, emit);
      if (k < u.size()) emit(s.substr(u[k].begin, u[k].end - u[k].begin));
      a = k + 1;
    }
  }
}

constexpr std::uint64_t pair_key(std::int32_t a, std::int32_t b) {
  return (std::uint64_t{static_cast<std::uint32_t>(a)} << 32) | static_cast<std::uint32_t>(b);
}

}  // namespace

// ---- files ------------------------------------------------------------------------------------
// {"token": id, ...}; `where` is "FILE" or "FILE: model.vocab". Also WordPiece's (tokenizer_hf.h).
std::unordered_map<std::string, std::int64_t> parse_vocab(const json& v, const std::string& where) {
  if (!v.is_object()) throw BadInput(where + ": expected an object of token -> id");
  if (v.empty()) throw BadInput(where + ": empty vocabulary");
  std::unordered_map<std::string, std::int64_t> vocab;
  for (const auto& [token, id] : v.items()) {
    const bool ok = id.is_number_integer() && (id.is_number_unsigned() ? id.get<std::uint64_t>() < kMaxTokenId
                                                                       : id.get<std::int64_t>() >= 0 &&
                                                                             id.get<std::int64_t>() < kMaxTokenId);
    if (!ok)
      throw BadInput(where + ": token '" + token + "': id " + id.dump() + " is not an integer in [0, " +
                     std::to_string(kMaxTokenId) + ")");
    vocab.emplace(token, id.get<std::int64_t>());
  }
  return vocab;
}

namespace {

// "a b" -> {a, b}; false unless exactly two non-empty parts.
bool split_merge(const std::string& line, std::pair<std::string, std::string>& out) {
  const std::size_t sp = line.find(' ');
  if (sp == std::string::npos || sp == 0 || sp + 1 == line.size() || line.find(' ', sp + 1) != std::string::npos)
    return false;
  out = {line.substr(0, sp), line.substr(sp + 1)};
  return true;
}

}  // namespace

// ---- construction ---------------------------------------------------------------------------------
Tokenizer::Tokenizer() : cache_(std::make_shared<WordCache>()) {}

Tokenizer Tokenizer::build(const std::unordered_map<std::string, std::int64_t>& vocab,
                           const std::vector<std::pair<std::string, std::string>>& merges,
                           const std::vector<std::string>& merge_where, const std::string& vocab_file,
                           const std::string& merges_file, bool require_all_bytes) {
  Tokenizer t;
  std::int64_t max_id = -1;
  for (const auto& [token, id] : vocab) max_id = std::max(max_id, id);
  if (max_id + 1 - static_cast<std::int64_t>(vocab.size()) > kMaxUnusedIds)
    throw BadInput(vocab_file + ": id " + std::to_string(max_id) + " leaves more than " +
                   std::to_string(kMaxUnusedIds) + " ids unused among " + std::to_string(vocab.size()) +
                   " tokens (ids must be numbered densely)");
  t.id_bytes_.assign(static_cast<std::size_t>(max_id + 1), std::string());
  t.id_present_.assign(static_cast<std::size_t>(max_id + 1), false);
  for (const auto& [token, id] : vocab) {
    const auto k = static_cast<std::size_t>(id);
    if (t.id_present_[k]) throw BadInput(vocab_file + ": id " + std::to_string(id) + " is given to two tokens");
    t.id_present_[k] = true;
    t.id_bytes_[k] = token_bytes(token);
  }

  const ByteTable& table = byte_table();
  for (int b = 0; b < 256; ++b) {
    std::string ch;
    append_utf8(ch, table.to_char[static_cast<std::size_t>(b)]);
    const auto it = vocab.find(ch);
    if (it == vocab.end() && !require_all_bytes) {
      t.byte_id_[static_cast<std::size_t>(b)] = -1;  // such a byte in the text is dropped
      continue;
    }
    if (it == vocab.end()) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", b);
      throw BadInput(vocab_file + ": no token for byte " + hex + " ('" + ch +
                     "'): not a byte-level BPE vocabulary like GPT-2's");
    }
    t.byte_id_[static_cast<std::size_t>(b)] = static_cast<std::int32_t>(it->second);
  }

  const auto id_of = [&](const std::string& token, std::size_t i) {
    const auto it = vocab.find(token);
    if (it == vocab.end())
      throw BadInput(merges_file + ": " + merge_where[i] + ": '" + token + "' is not in the vocabulary (" +
                     vocab_file + ")");
    return static_cast<std::int32_t>(it->second);
  };
  t.merges_.reserve(merges.size());
  for (std::size_t i = 0; i < merges.size(); ++i) {
    const auto& [a, b] = merges[i];
    const std::int32_t left = id_of(a, i), right = id_of(b, i), result = id_of(a + b, i);
    // A repeated pair keeps its first (lowest) rank.
    t.merges_.emplace(pair_key(left, right), Merge{static_cast<std::int32_t>(i), result});
  }
  return t;
}

Tokenizer Tokenizer::from_vocab_merges(const std::string& vocab_json, const std::string& merges_txt) {
  const auto vocab = parse_vocab(parse_json_file(vocab_json), vocab_json);
  const std::string text = read_file(merges_txt);
  std::vector<std::pair<std::string, std::string>> merges;
  std::vector<std::string> where;
  std::size_t pos = 0;
  for (int line_no = 1; pos < text.size(); ++line_no) {
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    std::string line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (line_no == 1 && line.rfind("#version", 0) == 0)) continue;
    std::pair<std::string, std::string> m;
    if (!split_merge(line, m))
      throw BadInput(merges_txt + ":" + std::to_string(line_no) + ": expected two tokens separated by one space, got '" +
                     line + "'");
    merges.push_back(std::move(m));
    where.push_back("line " + std::to_string(line_no));
  }
  Tokenizer t = build(vocab, merges, where, vocab_json, merges_txt);
  t.source_ = vocab_json + " + " + merges_txt;
  return t;
}

Tokenizer Tokenizer::from_tokenizer_json(const std::string& path) {
  const json j = parse_json_file(path);
  if (!j.is_object() || !j.contains("model") || !j["model"].is_object())
    throw BadInput(path + ": model: missing (expected an object with type \"BPE\", vocab and merges)");
  const json& m = j["model"];
  if (m.contains("type") && m["type"] == "WordPiece") return from_wordpiece_json(j, path);
  if (m.contains("type") && m["type"] != "BPE")
    throw BadInput(path + ": model.type: " + m["type"].dump() + " is not supported (supported: \"BPE\", \"WordPiece\")");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (m.contains(key) && !m[key].is_null() && m[key] != "")
      throw BadInput(path + ": model." + key + ": " + m[key].dump() + " is not supported (GPT-2 uses none)");
  }
  if (!m.contains("vocab")) throw BadInput(path + ": model.vocab: missing");
  if (!m.contains("merges") || !m["merges"].is_array())
    throw BadInput(path + ": model.merges: missing or not an array");
  const auto vocab = parse_vocab(m["vocab"], path + ": model.vocab");
  const json& jm = m["merges"];
  std::vector<std::pair<std::string, std::string>> merges;
  std::vector<std::string> where;
  merges.reserve(jm.size());
  for (std::size_t i = 0; i < jm.size(); ++i) {
    const json& e = jm[i];
    const std::string w = "model.merges[" + std::to_string(i) + "]";
    std::pair<std::string, std::string> p;
    bool ok = false;
    if (e.is_string()) {
      ok = split_merge(e.get<std::string>(), p);
    } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
      p = {e[0].get<std::string>(), e[1].get<std::string>()};
      ok = !p.first.empty() && !p.second.empty();
    }
    if (!ok)
      throw BadInput(path + ": " + w + ": expected \"a b\" or [\"a\", \"b\"] with two non-empty tokens, got " +
                     e.dump());
    merges.push_back(std::move(p));
    where.push_back(w);
  }
  Tokenizer t = build(vocab, merges, where, path, path);
  t.source_ = path;
  const HfTokenizerExtras x = hf_tokenizer_extras(j, path);
  t.pre_ = pre_named(x.pre, path);
  for (const auto& [content, id] : x.added) t.add_special(content, id, path);
  t.sort_specials();
  const auto id_of = [&](const std::string& token, const char* what) {
    if (token.empty()) return -1;
    const std::int32_t id = t.token_id(token);
    if (id < 0) throw BadInput(path + ": " + what + " '" + token + "' is not an added token");
    return id;
  };
  t.bos_id_ = id_of(x.bos_token, "bos_token");
  t.eos_id_ = id_of(x.eos_token, "eos_token");
  t.add_bos_ = x.add_bos && t.bos_id_ >= 0;
  t.chat_template_ = x.chat_template;
  return t;
}

Tokenizer::Pre Tokenizer::pre_named(const std::string& name, const std::string& where) {
  if (name.empty() || name == "gpt2" || name == "default") return Pre::Gpt2;
  if (name == "smollm") return Pre::Smollm;
  if (name == "llama-bpe") return Pre::Llama3;
  throw BadInput(where + ": pre-tokenizer '" + name + "' is not supported (supported: gpt2, smollm, llama-bpe)");
}

// An added token: matched in the text before BPE, decoded as its content. Its id may lie beyond the
// BPE vocabulary (LLaMA 3's 256 reserved tokens follow it).
void Tokenizer::add_special(const std::string& content, std::int32_t id, const std::string& where) {
  const auto k = static_cast<std::size_t>(id);
  if (k >= id_bytes_.size()) {
    if (static_cast<std::int64_t>(k) - static_cast<std::int64_t>(id_bytes_.size()) > kMaxUnusedIds)
      throw BadInput(where + ": added token '" + content + "' has id " + std::to_string(id) +
                     ", far beyond the vocabulary (ids must be numbered densely)");
    id_bytes_.resize(k + 1);
    id_present_.resize(k + 1, false);
  }
  id_bytes_[k] = content;
  id_present_[k] = true;
  token_ids_[content] = id;
  specials_.emplace_back(content, id);
}

void Tokenizer::sort_specials() {
  std::stable_sort(specials_.begin(), specials_.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
}

std::optional<Tokenizer> Tokenizer::load(const std::string& model_dir) {
  std::error_code ec;
  const fs::path dir(model_dir);
  if (!fs::is_directory(dir, ec)) return std::nullopt;
  const fs::path tj = dir / "tokenizer.json", vj = dir / "vocab.json", mt = dir / "merges.txt";
  // LLaMA 2 directories carry tokenizer.json (a SentencePiece BPE in Hugging Face's form, which the
  // byte-level loader cannot read) beside tokenizer.model: the SentencePiece model comes first.
  // A tokenizer.model that is not SentencePiece's (tiktoken's has the same name) leaves a
  // readable tokenizer.json in charge; when that fails too, the tokenizer.model error is the one.
  if (const fs::path sm = dir / "tokenizer.model"; fs::exists(sm, ec)) {
    bool add_bos = true, add_eos = false;  // LlamaTokenizer's defaults
    if (const fs::path tc = dir / "tokenizer_config.json"; fs::exists(tc, ec)) {
      const json c = parse_json_file(tc.string());
      if (c.is_object() && c.contains("add_bos_token") && c["add_bos_token"].is_boolean()) add_bos = c["add_bos_token"];
      if (c.is_object() && c.contains("add_eos_token") && c["add_eos_token"].is_boolean()) add_eos = c["add_eos_token"];
    }
    try {
      return from_sentencepiece_model(sm.string(), add_bos, add_eos);
    } catch (const BadInput&) {
      if (!fs::exists(tj, ec)) throw;
      try {
        return from_tokenizer_json(tj.string());
      } catch (const BadInput&) {
      }
      throw;
    }
  }
  if (fs::exists(tj, ec)) return from_tokenizer_json(tj.string());
  const bool has_vocab = fs::exists(vj, ec), has_merges = fs::exists(mt, ec);
  if (has_vocab && has_merges) return from_vocab_merges(vj.string(), mt.string());
  // BERT's classic files (WordPiece): vocab.txt, tokenizer_config.json beside it.
  if (const fs::path vt = dir / "vocab.txt"; !has_vocab && !has_merges && fs::exists(vt, ec)) return from_vocab_txt(vt.string());
  if (has_vocab) throw BadInput(vj.string() + ": found without merges.txt beside it");
  if (has_merges) throw BadInput(mt.string() + ": found without vocab.json beside it");
  return std::nullopt;
}

// ---- encode / decode --------------------------------------------------------------------------
void Tokenizer::bpe(std::string_view word, std::vector<std::int32_t>& out) const {
  std::vector<std::int32_t> sym;  // [symbols] token ids, one byte each to start
  sym.reserve(word.size());
  for (const char ch : word)
    if (const std::int32_t id = byte_id_[static_cast<std::uint8_t>(ch)]; id >= 0) sym.push_back(id);
  while (sym.size() > 1) {
    // The adjacent pair with the lowest rank, then every occurrence of it, left to right.
    const Merge* best = nullptr;
    std::uint64_t best_key = 0;
    for (std::size_t k = 0; k + 1 < sym.size(); ++k) {
      const std::uint64_t key = pair_key(sym[k], sym[k + 1]);
      const auto it = merges_.find(key);
      if (it != merges_.end() && (!best || it->second.rank < best->rank)) {
        best = &it->second;
        best_key = key;
      }
    }
    if (!best) break;
    std::size_t w = 0;
    for (std::size_t r = 0; r < sym.size();) {
      if (r + 1 < sym.size() && pair_key(sym[r], sym[r + 1]) == best_key) {
        sym[w++] = best->result;
        r += 2;
      } else {
        sym[w++] = sym[r++];
      }
    }
    sym.resize(w);
  }
  out.insert(out.end(), sym.begin(), sym.end());
}

std::vector<std::int32_t> Tokenizer::encode(std::string_view text) const {
  std::vector<std::int32_t> ids;
  std::size_t plain = 0;
  if (!specials_.empty()) {
    for (std::size_t i = 0; i < text.size();) {
      const std::pair<std::string, std::int32_t>* hit = nullptr;
      for (const auto& sp : specials_)  // longest first
        if (text.compare(i, sp.first.size(), sp.first) == 0) {
          hit = &sp;
          break;
        }
      if (!hit) {
        ++i;
        continue;
      }
      encode_plain(text.substr(plain, i - plain), ids);
      ids.push_back(hit->second);
      i += hit->first.size();
      plain = i;
    }
  }
  encode_plain(text.substr(plain), ids);
  return ids;
}

std::vector<std::int32_t> Tokenizer::encode(std::string_view text, bool add_special) const {
  std::vector<std::int32_t> ids;
  if (kind_ == Kind::WordPiece) {  // BERT's TemplateProcessing "[CLS] $A [SEP]"
    if (add_special && cls_id_ >= 0) ids.push_back(cls_id_);
    const auto rest = encode(text);
    ids.insert(ids.end(), rest.begin(), rest.end());
    if (add_special && sep_id_ >= 0) ids.push_back(sep_id_);
    return ids;
  }
  if (add_special && add_bos_ && bos_id_ >= 0) ids.push_back(bos_id_);
  const auto rest = encode(text);
  ids.insert(ids.end(), rest.begin(), rest.end());
  if (add_special && add_eos_ && eos_id_ >= 0) ids.push_back(eos_id_);
  return ids;
}

void Tokenizer::encode_plain(std::string_view text, std::vector<std::int32_t>& ids) const {
  if (kind_ == Kind::SentencePiece) return spm_encode(text, ids);
  if (kind_ == Kind::WordPiece) return wp_encode(text, ids);
  const PreKind pre = pre_ == Pre::Gpt2 ? PreKind::Gpt2 : pre_ == Pre::Smollm ? PreKind::Smollm : PreKind::Llama3;
  for_each_word(text, [&](std::string_view word) {
    const std::string key(word);
    {
      std::lock_guard<std::mutex> lock(cache_->mu);
      const auto it = cache_->words.find(key);
      if (it != cache_->words.end()) {
        ids.insert(ids.end(), it->second.begin(), it->second.end());
        return;
      }
    }
    const std::size_t first = ids.size();
    bpe(word, ids);
    std::lock_guard<std::mutex> lock(cache_->mu);
    if (cache_->words.size() >= kMaxCachedWords) cache_->words.clear();
    cache_->words.emplace(key, std::vector<std::int32_t>(ids.begin() + static_cast<std::ptrdiff_t>(first), ids.end()));
  }, pre);
}

bool Tokenizer::has_id(std::int32_t id) const {
  return id >= 0 && static_cast<std::size_t>(id) < id_present_.size() && id_present_[static_cast<std::size_t>(id)];
}

std::string Tokenizer::decode(const std::vector<std::int32_t>& ids, std::int32_t after) const {
  std::string out;
  std::int32_t prev = after;
  for (const std::int32_t id : ids) {
    out += token_text(id, prev);
    prev = id;
  }
  return out;
}

std::vector<std::string> Tokenizer::split_words(std::string_view text) {
  std::vector<std::string> words;
  for_each_word(text, [&](std::string_view w) { words.emplace_back(w); });
  return words;
}

// ---- GGUF-style data ---------------------------------------------------------------------------
std::optional<Tokenizer> Tokenizer::from_data(const TokenizerData& d) {
  const std::string where = d.origin.empty() ? std::string("tokenizer data") : d.origin;
  if (d.model == "none") return std::nullopt;
  if (d.model == "llama") return from_llama_data(d, where);
  if (d.model != "gpt2")
    throw BadInput(where + ": tokenizer model '" + d.model + "' is not supported (supported: gpt2, llama, none)");
  const Pre pre = pre_named(d.pre, where);
  std::unordered_map<std::string, std::int64_t> vocab;
  for (std::size_t i = 0; i < d.tokens.size(); ++i) vocab.emplace(d.tokens[i], static_cast<std::int64_t>(i));
  if (vocab.size() != d.tokens.size()) throw BadInput(where + ": a token appears twice in the vocabulary");
  std::vector<std::pair<std::string, std::string>> merges;
  std::vector<std::string> mwhere;
  for (std::size_t i = 0; i < d.merges.size(); ++i) {
    std::pair<std::string, std::string> m;
    if (!split_merge(d.merges[i], m))
      throw BadInput(where + ": merges[" + std::to_string(i) + "]: expected \"a b\", got '" + d.merges[i] + "'");
    merges.push_back(std::move(m));
    mwhere.push_back("merges[" + std::to_string(i) + "]");
  }
  // SmolLM2's vocabulary lacks a few control bytes (0x04, ...): they cannot be encoded.
  Tokenizer t = build(vocab, merges, mwhere, where, where, false);
  t.source_ = where;
  t.pre_ = pre;
  for (std::size_t i = 0; i < d.tokens.size(); ++i) {
    t.token_ids_.emplace(d.tokens[i], static_cast<std::int32_t>(i));
    if (i < d.token_type.size() && (d.token_type[i] == 3 || d.token_type[i] == 4) && !d.tokens[i].empty())
      t.specials_.emplace_back(d.tokens[i], static_cast<std::int32_t>(i));
  }
  t.sort_specials();
  t.chat_template_ = d.chat_template;
  const auto check_id = [&](std::int32_t id, const char* what) {
    if (id >= 0 && !t.has_id(id))
      throw BadInput(where + ": " + what + " id " + std::to_string(id) + " is not in the vocabulary");
    return id;
  };
  t.bos_id_ = check_id(d.bos_id, "BOS");
  t.eos_id_ = check_id(d.eos_id, "EOS");
  t.add_bos_ = d.add_bos;
  t.add_eos_ = d.add_eos;
  return t;
}

std::int32_t Tokenizer::token_id(const std::string& token) const {
  const auto it = token_ids_.find(token);
  return it == token_ids_.end() ? -1 : it->second;
}

const std::string& Tokenizer::token_bytes_of(std::int32_t id) const {
  if (!has_id(id))
    throw BadInput("token id " + std::to_string(id) + " is not in the vocabulary of the tokenizer (" + source_ + ")");
  return id_bytes_[static_cast<std::size_t>(id)];
}

std::string Tokenizer::token_text(std::int32_t id, std::int32_t prev) const {
  if (kind_ == Kind::WordPiece) return wp_token_text(id, prev);
  const std::string& bytes = token_bytes_of(id);
  if (kind_ != Kind::SentencePiece || !dummy_prefix_ ||
      !(piece_flags_[static_cast<std::size_t>(id)] & kLeadingSpace))
    return bytes;
  const bool at_start = prev < 0 || (has_id(prev) && (piece_flags_[static_cast<std::size_t>(prev)] & kControl));
  return at_start ? bytes.substr(1) : bytes;
}

// ---- streaming decode ---------------------------------------------------------------------------
namespace {
// Length of the trailing bytes of `s` that are a proper prefix of a well-formed UTF-8 sequence
// (to hold back), 0 when the end is complete (or is bytes that can never become a character).
std::size_t incomplete_tail(const std::string& s) {
  const std::size_t n = s.size();
  for (std::size_t back = 1; back <= 3 && back <= n; ++back) {
    const auto b = static_cast<std::uint8_t>(s[n - back]);
    if ((b & 0xC0) == 0x80) continue;  // continuation byte: look further back
    const std::size_t need = (b >= 0xC2 && b <= 0xDF) ? 2 : (b >= 0xE0 && b <= 0xEF) ? 3 : (b >= 0xF0 && b <= 0xF4) ? 4 : 1;
    return need > back ? back : 0;
  }
  return 0;
}
}  // namespace

std::string TextStream::push(std::int32_t id) {
  pending_ += tok_->token_text(id, prev_);
  prev_ = id;
  const std::size_t hold = incomplete_tail(pending_);
  std::string out = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return out;
}

std::string TextStream::flush() {
  std::string out;
  out.swap(pending_);
  return out;
}

// ---- chat templates -------------------------------------------------------------------------------
ChatTemplate::ChatTemplate(const std::string& t) {
  if (t.find("<|im_start|>") != std::string::npos) {
    kind_ = Kind::ChatML;
    // SmolLM2's template writes a default system message when the first message is not one:
    //   {{ '<|im_start|>system\nYou are ...<|im_end|>\n' }} (a newline or the escape "\n").
    const std::string key = "<|im_start|>system";
    const std::size_t p = t.find(key);
    if (p != std::string::npos && t.find("!= 'system'") != std::string::npos) {
      std::size_t q = p + key.size();
      if (t.compare(q, 1, "\n") == 0) q += 1;
      else if (t.compare(q, 2, "\\n") == 0) q += 2;
      const std::size_t e = t.find("<|im_end|>", q);
      if (e != std::string::npos) {
        const std::string msg = t.substr(q, e - q);
        if (!msg.empty() && msg.find_first_of("{}'\"+") == std::string::npos) default_system_ = msg;
      }
    }
  } else if (t.find("<|start_header_id|>") != std::string::npos) {
    kind_ = Kind::Llama3;
  } else {
    throw BadInput("unsupported chat template (recognised: ChatML, LLaMA 3)");
  }
}

std::string ChatTemplate::apply(const std::string& prompt, const std::string& bos_token) const {
  if (kind_ == Kind::ChatML) {
    std::string s;
    if (!default_system_.empty()) s += "<|im_start|>system\n" + default_system_ + "<|im_end|>\n";
    return s + "<|im_start|>user\n" + prompt + "<|im_end|>\n<|im_start|>assistant\n";
  }
  return bos_token + "<|start_header_id|>user<|end_header_id|>\n\n" + prompt +
         "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
}

std::vector<std::int32_t> ChatTemplate::stop_ids(const Tokenizer& tok) const {
  std::vector<std::int32_t> ids;
  if (tok.eos_id() >= 0) ids.push_back(tok.eos_id());
  const std::int32_t e = tok.token_id(kind_ == Kind::ChatML ? "<|im_end|>" : "<|eot_id|>");
  if (e >= 0 && std::find(ids.begin(), ids.end(), e) == ids.end()) ids.push_back(e);
  return ids;
}

std::string apply_chat_template(const std::string& template_text, const std::string& user_prompt,
                                const std::string& bos_token) {
  return ChatTemplate(template_text).apply(user_prompt, bos_token);
}

}  // namespace ferry
