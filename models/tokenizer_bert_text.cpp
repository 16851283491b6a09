// BertNormalizer and BertPreTokenizer (models/tokenizer_bert_text.h), written from the behaviour
// the `tokenizers` documentation describes and checked against that library (0.23.3) by
// tests/data/tokenizer/wordpiece_cases.json. Unicode properties (general category, White_Space,
// NFD, case mapping) come from ICU.
#include "models/tokenizer_bert_text.h"

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>
#include <unicode/utf8.h>

#include <array>

#include "base/error.h"

namespace ferry {

namespace {

// \t \n \r are control characters that BERT counts as whitespace; otherwise White_Space (as Rust's
// char::is_whitespace, which `tokenizers` uses).
bool is_whitespace(char32_t c) {
  return c == '\t' || c == '\n' || c == '\r' || u_isUWhiteSpace(static_cast<UChar32>(c));
}

// BERT's "control": general category Cc, Cf or Co, except \t \n \r. Unassigned code points (Cn)
// are kept: `tokenizers` 0.23 keeps U+0378, and drops U+E000 (Co) and U+200B, U+00AD (Cf).
bool is_control(char32_t c) {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  const auto t = u_charType(static_cast<UChar32>(c));
  return t == U_CONTROL_CHAR || t == U_FORMAT_CHAR || t == U_PRIVATE_USE_CHAR;
}

// The CJK Unified Ideographs blocks of BERT's _is_chinese_char. `tokenizers` starts Extension E
// at U+2B920 (BERT's Python code says U+2B820); the reference ids come from `tokenizers`, so
// U+2B820..U+2B91F are not spaced out here either.
bool is_cjk(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// ASCII punctuation (all non-alphanumeric printable ASCII, '$' '+' '^' '`' included) or P*.
bool is_punct(char32_t c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) return true;
  const auto mask = U_GET_GC_MASK(static_cast<UChar32>(c));
  return (mask & U_GC_P_MASK) != 0;
}

std::u32string decode_utf8(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const std::uint8_t*>(s.data());
  const auto n = static_cast<std::int64_t>(s.size());
  for (std::int64_t i = 0; i < n;) {
    UChar32 c = 0;
    U8_NEXT(p, i, n, c);
    out.push_back(c < 0 ? U'\uFFFD' : static_cast<char32_t>(c));
  }
  return out;
}

void append_utf8(std::string& out, char32_t c) {
  std::array<std::uint8_t, U8_MAX_LENGTH> buf{};
  std::int32_t n = 0;
  U8_APPEND_UNSAFE(buf.data(), n, static_cast<UChar32>(c));
  out.append(reinterpret_cast<const char*>(buf.data()), static_cast<std::size_t>(n));
}

std::u32string clean_text(const std::u32string& in) {
  std::u32string out;
  out.reserve(in.size());
  for (const char32_t c : in) {
    if (c == 0 || c == 0xFFFD || is_control(c)) continue;  // dropped before the whitespace test
    out.push_back(is_whitespace(c) ? U' ' : c);
  }
  return out;
}

std::u32string space_cjk(const std::u32string& in) {
  std::u32string out;
  out.reserve(in.size());
  for (const char32_t c : in) {
    if (!is_cjk(c)) {
      out.push_back(c);
      continue;
    }
    out.push_back(U' ');
    out.push_back(c);
    out.push_back(U' ');
  }
  return out;
}

std::u16string to_utf16(const std::u32string& in) {
  std::u16string out;
  out.reserve(in.size());
  for (const char32_t c : in) {
    if (c <= 0xFFFF) {
      out.push_back(static_cast<char16_t>(c));
    } else {
      out.push_back(static_cast<char16_t>(U16_LEAD(c)));
      out.push_back(static_cast<char16_t>(U16_TRAIL(c)));
    }
  }
  return out;
}

// NFD (ICU's unorm2), then every nonspacing mark (Mn) dropped.
std::u32string strip_accents(const std::u32string& in) {
  UErrorCode err = U_ZERO_ERROR;
  const UNormalizer2* nfd = unorm2_getNFDInstance(&err);
  if (U_FAILURE(err)) throw BadInput(std::string("ICU: no NFD normalizer: ") + u_errorName(err));
  const std::u16string src = to_utf16(in);
  const auto len = static_cast<std::int32_t>(src.size());
  std::u16string dst(src.size() * 3 + 16, u'\0');  // NFD grows a code unit at most 3-fold in practice
  std::int32_t n = unorm2_normalize(nfd, reinterpret_cast<const UChar*>(src.data()), len,
                                    reinterpret_cast<UChar*>(dst.data()), static_cast<std::int32_t>(dst.size()), &err);
  if (err == U_BUFFER_OVERFLOW_ERROR) {
    err = U_ZERO_ERROR;
    dst.assign(static_cast<std::size_t>(n), u'\0');
    n = unorm2_normalize(nfd, reinterpret_cast<const UChar*>(src.data()), len, reinterpret_cast<UChar*>(dst.data()),
                         n, &err);
  }
  if (U_FAILURE(err)) throw BadInput(std::string("ICU: NFD failed: ") + u_errorName(err));
  std::u32string out;
  out.reserve(static_cast<std::size_t>(n));
  for (std::int32_t i = 0; i < n;) {
    UChar32 c = 0;
    U16_NEXT(dst.data(), i, n, c);
    if (u_charType(c) != U_NON_SPACING_MARK) out.push_back(static_cast<char32_t>(c));
  }
  return out;
}

// Each code point's full lowercase mapping on its own (ICU u_strToLower of that one code point,
// root locale): what `tokenizers` does (Rust's char::to_lowercase, code point by code point).
//   * Not u_tolower, the simple mapping: U+0130 'İ' lowercases to "i\u0307" (two code points) in
//     full, to "i" simply; Python's str.lower() and `tokenizers` give "i\u0307".
//   * Not u_strToLower of the whole text: that applies the final-sigma context ("ΟΔΟΣ" -> "οδος",
//     as Python's str.lower() does), where `tokenizers` gives "οδοσ" (checked in the test cases).
//   ASCII, Latin-1, Latin Extended, Greek and Cyrillic letters otherwise map alike in all three.
std::u32string lowercase(const std::u32string& in) {
  std::u32string out;
  out.reserve(in.size());
  for (const char32_t c : in) {
    if (c < 0x80) {
      out.push_back(c >= 'A' && c <= 'Z' ? c + 32 : c);
      continue;
    }
    std::array<UChar, 2> src{};
    std::int32_t len = 0;
    U16_APPEND_UNSAFE(src.data(), len, static_cast<UChar32>(c));
    std::array<UChar, 8> dst{};  // full mappings are at most 3 code points
    UErrorCode err = U_ZERO_ERROR;
    const std::int32_t n = u_strToLower(dst.data(), static_cast<std::int32_t>(dst.size()), src.data(), len, "", &err);
    if (U_FAILURE(err)) {
      out.push_back(c);
      continue;
    }
    for (std::int32_t i = 0; i < n;) {
      UChar32 lc = 0;
      U16_NEXT(dst.data(), i, n, lc);
      out.push_back(static_cast<char32_t>(lc));
    }
  }
  return out;
}

}  // namespace

// The steps in `tokenizers`' order: clean_text, handle_chinese_chars, strip_accents, lowercase.
std::u32string bert_normalize(std::string_view text, const BertNormalizerOptions& opt) {
  std::u32string s = decode_utf8(text);
  if (opt.clean_text) s = clean_text(s);
  if (opt.handle_chinese_chars) s = space_cjk(s);
  if (opt.strip_accents) s = strip_accents(s);
  if (opt.lowercase) s = lowercase(s);
  return s;
}

std::vector<std::string> bert_pre_tokenize(const std::u32string& text) {
  std::vector<std::string> words;
  std::string word;
  const auto flush = [&] {
    if (!word.empty()) words.push_back(std::move(word));
    word.clear();
  };
  for (const char32_t c : text) {
    if (is_whitespace(c)) {
      flush();
    } else if (is_punct(c)) {
      flush();
      append_utf8(word, c);
      flush();
    } else {
      append_utf8(word, c);
    }
  }
  flush();
  return words;
}

}  // namespace ferry
