// WordPiece (BERT) against Hugging Face `tokenizers` (scripts/tokenizer/make_wordpiece_tests.py):
// ids with and without [CLS]/[SEP], decoded text and sentence pairs for an uncased, a cased and a
// cased accent-stripping vocabulary, loaded from tokenizer.json and from vocab.txt; the real
// all-MiniLM-L6-v2 tokenizer when FERRY_MINILM_DIR names it (skipped, visibly, otherwise).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <unistd.h>
#include <vector>

#include "base/error.h"
#include "models/tokenizer.h"
#include "tests/support/test_util.h"

namespace {

namespace fs = std::filesystem;
using Ids = std::vector<std::int32_t>;
const std::string kData = std::string(FERRY_TEST_DATA) + "/tokenizer/";

nlohmann::json cases(const std::string& file) { return nlohmann::json::parse(ferry::test::read_text(kData + file)); }

void expect_cases(const ferry::Tokenizer& tok, const nlohmann::json& v, const std::string& how) {
  for (const auto& c : v["cases"]) {
    const std::string text = c["text"];
    SCOPED_TRACE(how + ": " + nlohmann::json(text).dump());
    const Ids ids = tok.encode(text);
    EXPECT_EQ(ids, c["ids"].get<Ids>());
    const Ids special = tok.encode(text, true);
    EXPECT_EQ(special, c["ids_special"].get<Ids>());
    if (c.contains("decoded")) {
      EXPECT_EQ(tok.decode(ids), c["decoded"].get<std::string>());
      EXPECT_EQ(tok.decode(special), c["decoded_special"].get<std::string>());
    }
  }
  if (!v.contains("pairs")) return;
  for (const auto& p : v["pairs"]) {
    Ids types;
    EXPECT_EQ(tok.encode_pair(p["a"].get<std::string>(), p["b"].get<std::string>(), &types), p["ids"].get<Ids>());
    EXPECT_EQ(types, p["type_ids"].get<Ids>());
  }
}

TEST(WordPiece, MatchesTokenizersFromTokenizerJsonAndVocabTxt) {
  const auto all = cases("wordpiece_cases.json");
  for (const std::string name : {"uncased", "cased"}) {
    const auto& v = all["variants"][name];
    const std::string dir = kData + "wordpiece/" + v["dir"].get<std::string>();
    const auto json_tok = ferry::Tokenizer::from_tokenizer_json(dir + "/tokenizer.json");
    EXPECT_EQ(json_tok.kind(), ferry::Tokenizer::Kind::WordPiece);
    EXPECT_EQ(json_tok.vocab_size(), v["vocab_size"].get<int>());
    expect_cases(json_tok, v, name + " tokenizer.json");
    expect_cases(ferry::Tokenizer::from_vocab_txt(dir + "/vocab.txt"), v, name + " vocab.txt");
  }
}

TEST(WordPiece, CasedVocabularyWithStripAccentsFromTokenizerConfig) {
  const auto all = cases("wordpiece_cases.json");
  const auto& v = all["variants"]["cased-strip"];
  const fs::path tmp = fs::temp_directory_path() / ("ferry-wp-" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  fs::copy_file(kData + "wordpiece/cased/vocab.txt", tmp / "vocab.txt", fs::copy_options::overwrite_existing);
  std::ofstream(tmp / "tokenizer_config.json") << R"({"do_lower_case": false, "strip_accents": true})";
  const auto tok = ferry::Tokenizer::load(tmp.string());
  ASSERT_TRUE(tok.has_value());
  expect_cases(*tok, v, "cased-strip vocab.txt");
  fs::remove_all(tmp);
}

TEST(WordPiece, LoadFindsTheTokenizerAndSpecialIds) {
  const auto tok = ferry::Tokenizer::load(kData + "wordpiece/uncased");
  ASSERT_TRUE(tok.has_value());
  EXPECT_EQ(tok->cls_id(), tok->token_id("[CLS]"));
  EXPECT_EQ(tok->sep_id(), tok->token_id("[SEP]"));
  EXPECT_EQ(tok->mask_id(), tok->token_id("[MASK]"));
  EXPECT_EQ(tok->pad_id(), tok->token_id("[PAD]"));
  EXPECT_GE(tok->unk_id(), 0);
  EXPECT_NE(tok->cls_id(), tok->sep_id());
}

TEST(WordPiece, BadFilesAreBadInput) {
  const fs::path tmp = fs::temp_directory_path() / ("ferry-wp-bad-" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  std::ofstream(tmp / "vocab.txt") << "a\nb\n";  // no [UNK]
  EXPECT_THROW(ferry::Tokenizer::from_vocab_txt((tmp / "vocab.txt").string()), ferry::BadInput);
  std::ofstream(tmp / "tokenizer.json") << R"({"model": {"type": "WordPiece", "vocab": {"[UNK]": 0}},
    "normalizer": {"type": "NFKC"}})";
  EXPECT_THROW(ferry::Tokenizer::from_tokenizer_json((tmp / "tokenizer.json").string()), ferry::BadInput);
  // A byte-level BPE tokenizer has no sentence pairs.
  EXPECT_THROW(ferry::Tokenizer::from_tokenizer_json(kData + "tokenizer.json").encode_pair("a", "b", nullptr),
               ferry::BadInput);
  fs::remove_all(tmp);
}

TEST(WordPiece, AllMiniLmMatchesTokenizers) {
  const char* dir = std::getenv("FERRY_MINILM_DIR");
  if (!dir || !*dir) GTEST_SKIP() << "FERRY_MINILM_DIR is not set (scripts/minilm fetches all-MiniLM-L6-v2)";
  const auto v = cases("minilm_cases.json");
  const auto tok = ferry::Tokenizer::load(dir);
  ASSERT_TRUE(tok.has_value());
  EXPECT_EQ(tok->vocab_size(), v["vocab_size"].get<int>());
  expect_cases(*tok, v, "all-MiniLM-L6-v2");
  expect_cases(ferry::Tokenizer::from_vocab_txt(std::string(dir) + "/vocab.txt"), v, "all-MiniLM-L6-v2 vocab.txt");
}

}  // namespace
