// BERT's text preparation before WordPiece (models/tokenizer_wordpiece.cpp), as Hugging Face
// `tokenizers` does it (its BertNormalizer and BertPreTokenizer; the algorithm of Devlin et al.
// 2019, "BERT", section 3 and Google's original BasicTokenizer): the normalizer cleans control
// characters and spaces, spaces out CJK ideographs, strips accents and lowercases; the
// pre-tokenizer splits on whitespace and makes every punctuation character a word of its own.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace ferry {

struct BertNormalizerOptions {
  bool clean_text = true;            // drop U+0000, U+FFFD, Cc/Cf/Co (but \t \n \r); whitespace -> ' '
  bool handle_chinese_chars = true;  // ' ' before and after each CJK ideograph
  bool strip_accents = true;         // NFD, then drop Mn (nonspacing marks)
  bool lowercase = true;             // per code point full lowercase mapping
};

// UTF-8 in, code points out (an invalid UTF-8 sequence reads as U+FFFD, which clean_text drops).
std::u32string bert_normalize(std::string_view text, const BertNormalizerOptions& opt);

// The words of normalized text, UTF-8: split on White_Space, each punctuation character (ASCII
// 33-47, 58-64, 91-96, 123-126 or a Unicode P* category) a word of its own.
std::vector<std::string> bert_pre_tokenize(const std::u32string& text);

}  // namespace ferry
