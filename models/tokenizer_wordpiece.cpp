// WordPiece (BERT; Devlin et al. 2019; Wu et al. 2016, "Google's Neural Machine Translation
// System", section 4.1): after BertNormalizer and BertPreTokenizer (tokenizer_bert_text.h), each
// word is cut greedily into the longest vocabulary pieces from its start, continuations marked
// "##"; a word with a part no piece matches, or longer than max_input_chars_per_word, is [UNK].
// Written by hand: no Debian C++ library implements WordPiece (libsentencepiece does BPE and
// unigram only). Behaviour checked against Hugging Face `tokenizers` (tests/data/tokenizer/wordpiece*).
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/error.h"
#include "models/file_text.h"
#include "models/tokenizer.h"
#include "models/tokenizer_bert_text.h"
#include "models/tokenizer_hf.h"

namespace ferry {

namespace fs = std::filesystem;
using nlohmann::json;

struct Tokenizer::Wp {
  BertNormalizerOptions norm;
  std::string prefix = "##";
  std::size_t max_chars = 100;  // max_input_chars_per_word, in code points
};

namespace {

// The number of code points of UTF-8 `s` (continuation bytes not counted).
std::size_t utf8_length(const std::string& s) {
  std::size_t n = 0;
  for (const char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// The start of the UTF-8 character before byte `end` of `s`.
std::size_t char_before(const std::string& s, std::size_t end) {
  std::size_t i = end - 1;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  return i;
}

// The WordPiece decoder's cleanup of one token (the `tokenizers` library's `cleanup`, applied to
// each token with its joining space already added).
std::string cleanup(std::string t) {
  static const std::pair<const char*, const char*> kRules[] = {
      {" .", "."},   {" ?", "?"},    {" !", "!"},    {" ,", ","},    {" ' ", "'"},        {" n't", "n't"},
      {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : kRules) {
    const std::string f(from);
    for (std::size_t p = t.find(f); p != std::string::npos; p = t.find(f, p + std::string(to).size()))
      t.replace(p, f.size(), to);
  }
  return t;
}

bool json_bool(const json& j, const char* key, bool fallback, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_boolean()) throw BadInput(where + ": " + key + ": expected true, false or null");
  return j[key].get<bool>();
}

std::string json_string(const json& j, const char* key, const std::string& fallback, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (j[key].is_object() && j[key].contains("content") && j[key]["content"].is_string())
    return j[key]["content"].get<std::string>();  // an AddedToken written in full
  if (!j[key].is_string()) throw BadInput(where + ": " + key + ": expected a string");
  return j[key].get<std::string>();
}

}  // namespace

Tokenizer Tokenizer::wordpiece(std::shared_ptr<Wp> wp, const std::vector<std::string>& tokens,
                               const std::string& where) {
  Tokenizer t;
  t.kind_ = Kind::WordPiece;
  t.source_ = where;
  t.id_bytes_ = tokens;
  t.id_present_.assign(tokens.size(), false);
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i].empty()) continue;  // an id no token has (a gap in tokenizer.json's vocabulary)
    t.id_present_[i] = true;
    t.token_ids_.emplace(tokens[i], static_cast<std::int32_t>(i));
  }
  t.wp_ = std::move(wp);
  return t;
}

// The special tokens by name; those present become specials matched in the raw text when
// `match_in_text` (vocab.txt: BertTokenizer never splits them; tokenizer.json lists its own).
static void set_wordpiece_specials(Tokenizer& t, const json& cfg, const std::string& where, bool match_in_text,
                                   std::int32_t& cls, std::int32_t& sep, std::int32_t& mask, std::int32_t& pad,
                                   std::int32_t& unk, std::vector<std::pair<std::string, std::int32_t>>& specials) {
  const std::pair<const char*, std::int32_t*> names[] = {
      {"cls_token", &cls}, {"sep_token", &sep}, {"mask_token", &mask}, {"pad_token", &pad}, {"unk_token", &unk}};
  const char* defaults[] = {"[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]"};
  for (std::size_t i = 0; i < 5; ++i) {
    const std::string tok = json_string(cfg, names[i].first, defaults[i], where);
    *names[i].second = t.token_id(tok);
    if (match_in_text && *names[i].second >= 0) specials.emplace_back(tok, *names[i].second);
  }
}

Tokenizer Tokenizer::from_vocab_txt(const std::string& vocab_txt) {
  const std::string text = read_file(vocab_txt);
  std::vector<std::string> tokens;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    std::string line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    tokens.push_back(line);
  }
  if (tokens.empty()) throw BadInput(vocab_txt + ": empty vocabulary");
  const fs::path cfg_path = fs::path(vocab_txt).parent_path() / "tokenizer_config.json";
  std::error_code ec;
  const json cfg = fs::exists(cfg_path, ec) ? parse_json_file(cfg_path.string()) : json::object();
  const std::string where = cfg_path.string();
  auto wp = std::make_shared<Wp>();
  wp->norm.lowercase = json_bool(cfg, "do_lower_case", true, where);
  wp->norm.strip_accents = json_bool(cfg, "strip_accents", wp->norm.lowercase, where);
  wp->norm.handle_chinese_chars = json_bool(cfg, "tokenize_chinese_chars", true, where);
  Tokenizer t = wordpiece(wp, tokens, vocab_txt);
  set_wordpiece_specials(t, cfg, where, true, t.cls_id_, t.sep_id_, t.mask_id_, t.pad_id_, t.unk_id_, t.specials_);
  if (t.unk_id_ < 0) throw BadInput(vocab_txt + ": no unknown token (" + json_string(cfg, "unk_token", "[UNK]", where) + ")");
  t.sort_specials();
  return t;
}

Tokenizer Tokenizer::from_wordpiece_json(const json& tj, const std::string& path) {
  const json& m = tj["model"];
  const auto vocab = parse_vocab(m.contains("vocab") ? m["vocab"] : json(), path + ": model.vocab");
  std::int64_t max_id = -1;
  for (const auto& [tok, id] : vocab) max_id = std::max(max_id, id);
  std::vector<std::string> tokens(static_cast<std::size_t>(max_id + 1));
  for (const auto& [tok, id] : vocab) tokens[static_cast<std::size_t>(id)] = tok;
  auto wp = std::make_shared<Wp>();
  wp->prefix = json_string(m, "continuing_subword_prefix", "##", path + ": model");
  if (m.contains("max_input_chars_per_word") && m["max_input_chars_per_word"].is_number_unsigned())
    wp->max_chars = m["max_input_chars_per_word"].get<std::size_t>();
  if (tj.contains("normalizer") && !tj["normalizer"].is_null()) {
    const json& n = tj["normalizer"];
    if (n.value("type", "") != "BertNormalizer")
      throw BadInput(path + ": normalizer.type: " + n.value("type", std::string("?")) +
                     " is not supported with WordPiece (only BertNormalizer)");
    const std::string w = path + ": normalizer";
    wp->norm.clean_text = json_bool(n, "clean_text", true, w);
    wp->norm.handle_chinese_chars = json_bool(n, "handle_chinese_chars", true, w);
    wp->norm.lowercase = json_bool(n, "lowercase", true, w);
    wp->norm.strip_accents = json_bool(n, "strip_accents", wp->norm.lowercase, w);
  }
  if (tj.contains("pre_tokenizer") && !tj["pre_tokenizer"].is_null() &&
      tj["pre_tokenizer"].value("type", "") != "BertPreTokenizer")
    throw BadInput(path + ": pre_tokenizer.type: " + tj["pre_tokenizer"].value("type", std::string("?")) +
                   " is not supported with WordPiece (only BertPreTokenizer)");
  Tokenizer t = wordpiece(wp, tokens, path);
  for (const auto& [content, id] : hf_added_tokens(tj, path)) t.add_special(content, id, path);
  json names = json::object();
  names["unk_token"] = json_string(m, "unk_token", "[UNK]", path + ": model");
  set_wordpiece_specials(t, names, path, false, t.cls_id_, t.sep_id_, t.mask_id_, t.pad_id_, t.unk_id_, t.specials_);
  if (t.unk_id_ < 0) throw BadInput(path + ": model.unk_token " + names["unk_token"].dump() + " is not in the vocabulary");
  t.sort_specials();
  return t;
}

void Tokenizer::wp_encode(std::string_view text, std::vector<std::int32_t>& ids) const {
  for (const std::string& word : bert_pre_tokenize(bert_normalize(text, wp_->norm))) {
    if (utf8_length(word) > wp_->max_chars) {
      ids.push_back(unk_id_);
      continue;
    }
    const std::size_t first = ids.size();
    bool bad = false;
    for (std::size_t start = 0; start < word.size() && !bad;) {
      std::size_t end = word.size();
      std::int32_t hit = -1;
      while (end > start) {
        const std::string piece = (start > 0 ? wp_->prefix : std::string()) + word.substr(start, end - start);
        hit = token_id(piece);
        if (hit >= 0) break;
        end = char_before(word, end);
        if (end <= start) break;
      }
      if (hit < 0) {
        bad = true;
        break;
      }
      ids.push_back(hit);
      start = end;
    }
    if (bad) {
      ids.resize(first);
      ids.push_back(unk_id_);
    }
  }
}

std::string Tokenizer::wp_token_text(std::int32_t id, std::int32_t prev) const {
  const std::string& tok = token_bytes_of(id);
  if (prev < 0) return cleanup(tok);
  if (tok.rfind(wp_->prefix, 0) == 0) return cleanup(tok.substr(wp_->prefix.size()));
  return cleanup(" " + tok);
}

std::vector<std::int32_t> Tokenizer::encode_pair(std::string_view a, std::string_view b,
                                                 std::vector<std::int32_t>* type_ids) const {
  if (kind_ != Kind::WordPiece || cls_id_ < 0 || sep_id_ < 0)
    throw BadInput("a sentence pair needs a BERT (WordPiece) tokenizer with [CLS] and [SEP] (" + source_ + ")");
  std::vector<std::int32_t> ids = encode(a, true);
  const std::size_t first = ids.size();
  const auto rest = encode(b);
  ids.insert(ids.end(), rest.begin(), rest.end());
  ids.push_back(sep_id_);
  if (type_ids) {
    type_ids->assign(ids.size(), 0);
    for (std::size_t i = first; i < ids.size(); ++i) (*type_ids)[i] = 1;
  }
  return ids;
}

}  // namespace ferry
