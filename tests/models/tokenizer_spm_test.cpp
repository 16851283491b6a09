// SentencePiece tokenizers against ids from Google's Python `sentencepiece`
// (scripts/tokenizer/make_spm_tests.py -> tests/data/tokenizer/spm_cases.json), through both paths:
// the tokenizer.model of a Hugging Face directory and the same vocabulary as GGUF metadata
// (tokenizer.ggml.model "llama"); decoding, streaming, errors, and `ferry run --prompt` on both.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "models/gguf.h"
#include "models/tokenizer.h"
#include "test_util.h"  // tests/models/: expect_bad_input
#include "tests/support/test_util.h"

namespace fs = std::filesystem;
using ferry::BadInput;
using ferry::Tokenizer;
using nlohmann::json;
using namespace ferry::test;

namespace {

const fs::path kData = fs::path(FERRY_TEST_DATA) / "tokenizer";
const fs::path kModel = kData / "spm" / "tokenizer.model";
const fs::path kGguf = kData / "spm.gguf";

json spm_cases() { return json::parse(read_text(kData / "spm_cases.json")); }


bool valid_utf8(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    const std::size_t n = b < 0x80 ? 1 : b >= 0xF5 ? 0 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 ? 2 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

Tokenizer from_model() { return Tokenizer::from_sentencepiece_model(kModel.string()); }

Tokenizer from_gguf() {
  const ferry::TokenizerData d = ferry::gguf_tokenizer_data(kGguf.string());
  EXPECT_EQ(d.model, "llama");
  auto t = Tokenizer::from_data(d);
  if (!t) throw std::runtime_error("no tokenizer from " + kGguf.string());
  return *t;
}

void check_cases(const Tokenizer& tok) {
  const json c = spm_cases();
  ASSERT_EQ(c["version"], "spm-v1");
  EXPECT_EQ(tok.kind(), Tokenizer::Kind::SentencePiece);
  EXPECT_EQ(tok.vocab_size(), c["vocab_size"].get<int>());
  EXPECT_EQ(tok.bos_id(), c["bos_id"].get<int>());
  EXPECT_EQ(tok.eos_id(), c["eos_id"].get<int>());
  EXPECT_TRUE(tok.add_bos());
  EXPECT_FALSE(tok.add_eos());
  ASSERT_GE(c["cases"].size(), 25u);
  for (const auto& cs : c["cases"]) {
    const std::string text = cs["text"];
    SCOPED_TRACE("text: " + json(text).dump());
    const auto expected = cs["ids"].get<std::vector<std::int32_t>>();
    EXPECT_EQ(tok.encode(text), expected);
    EXPECT_EQ(tok.decode(expected), text);
    // BOS first with add_special (the model says so), nothing else changes.
    std::vector<std::int32_t> with_bos = {tok.bos_id()};
    with_bos.insert(with_bos.end(), expected.begin(), expected.end());
    EXPECT_EQ(tok.encode(text, true), with_bos);
    EXPECT_EQ(tok.decode(with_bos), "<s>" + text);
    // Streaming gives the same bytes, each piece whole characters.
    ferry::TextStream ts(tok);
    std::string streamed;
    for (const auto id : expected) {
      const std::string piece = ts.push(id);
      EXPECT_TRUE(valid_utf8(piece)) << "a piece of " << piece.size() << " bytes cuts a character";
      streamed += piece;
    }
    streamed += ts.flush();
    EXPECT_EQ(streamed, text);
  }
}

TEST(SentencePiece, ModelFileMatchesPythonSentencePiece) { check_cases(from_model()); }

TEST(SentencePiece, GgufVocabularyMatchesPythonSentencePiece) { check_cases(from_gguf()); }

TEST(SentencePiece, BothPathsAgreeOnPiecesAndSpecials) {
  const Tokenizer a = from_model(), b = from_gguf();
  ASSERT_EQ(a.vocab_size(), b.vocab_size());
  for (std::int32_t id = 0; id < a.vocab_size(); ++id) EXPECT_EQ(a.token_bytes_of(id), b.token_bytes_of(id)) << id;
  const json c = spm_cases();
  for (const auto& p : c["controls"]) {
    const std::string piece = p;
    EXPECT_GE(a.token_id(piece), 0) << piece;
    EXPECT_EQ(a.encode(piece), std::vector<std::int32_t>{a.token_id(piece)}) << piece;
    EXPECT_EQ(b.encode(piece), std::vector<std::int32_t>{b.token_id(piece)}) << piece;
  }
  // A user-defined piece is one token wherever it stands (the library matches it).
  const std::int32_t sep = a.token_id("<sep>");
  ASSERT_GE(sep, 0);
  for (const Tokenizer* t : {&a, &b}) {
    const auto ids = t->encode("ab<sep>cd");
    EXPECT_NE(std::find(ids.begin(), ids.end(), sep), ids.end());
  }
  // "<0x41>" written in the text is text, not the byte piece.
  EXPECT_EQ(a.decode(a.encode("<0x41>")), "<0x41>");
  EXPECT_EQ(a.token_bytes_of(a.token_id("<0x41>")), "A");
}

// The emoji needs byte fallback: four byte pieces, and the stream prints nothing until the last.
TEST(SentencePiece, StreamingAnEmojiByteByBytePrintsWholeCharactersOnly) {
  for (const Tokenizer& tok : {from_model(), from_gguf()}) {
    const std::string emoji = "\xF0\x9F\xA4\x97";  // 🤗
    const auto ids = tok.encode(emoji);
    ASSERT_EQ(ids.size(), 5u);  // "▁", then <0xF0> <0x9F> <0xA4> <0x97>
    EXPECT_EQ(tok.token_bytes_of(ids[1]), "\xF0");
    ferry::TextStream ts(tok);
    std::vector<std::string> out;
    for (const auto id : ids) out.push_back(ts.push(id));
    EXPECT_EQ(out, (std::vector<std::string>{"", "", "", "", emoji}));
    EXPECT_EQ(ts.flush(), "");
    // After a prompt the "▁" is a space; a cut character at the end comes out raw from flush().
    const std::int32_t hello = tok.encode("Hello").back();
    ferry::TextStream t2(tok, hello);
    EXPECT_EQ(t2.push(ids[0]), " ");
    EXPECT_EQ(t2.push(ids[1]), "");
    EXPECT_EQ(t2.push(ids[2]), "");
    EXPECT_EQ(t2.flush(), "\xF0\x9F");
  }
}

TEST(SentencePiece, LeadingSpaceIsDroppedOnlyAtTheStartAndAfterControlPieces) {
  const Tokenizer tok = from_model();
  const auto hello = tok.encode("Hello");       // "▁H" "e" "ll" "o"
  EXPECT_EQ(tok.decode(hello), "Hello");
  EXPECT_EQ(tok.decode(hello, hello.back()), " Hello");  // continuing a text
  EXPECT_EQ(tok.decode(hello, tok.bos_id()), "Hello");   // after <s>
  EXPECT_EQ(tok.token_text(hello[0], -1), "H");
  EXPECT_EQ(tok.token_text(hello[0], hello.back()), " H");
  EXPECT_EQ(tok.token_bytes_of(hello[0]), " H");
  expect_bad_input([&] { tok.decode({tok.vocab_size()}); }, {"token id", std::to_string(tok.vocab_size())});
  // Invalid UTF-8: the library's normalizer makes each bad byte U+FFFD (byte-level BPE keeps it).
  EXPECT_EQ(tok.decode(tok.encode("a\xFF" "b")), "a\xEF\xBF\xBD" "b");
}

class SentencePieceFiles : public ::testing::Test {
 protected:
  void SetUp() override { dir = temp_dir("spm"); }
  void TearDown() override { fs::remove_all(dir); }
  fs::path dir;
};

TEST_F(SentencePieceFiles, LoadFindsTokenizerModelFirstAndReadsTokenizerConfig) {
  fs::copy_file(kModel, dir / "tokenizer.model");
  write_text(dir / "tokenizer.json", "{");  // LLaMA 2 ships one too: not read
  auto t = Tokenizer::load(dir.string());
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->kind(), Tokenizer::Kind::SentencePiece);
  EXPECT_EQ(t->source(), (dir / "tokenizer.model").string());
  EXPECT_TRUE(t->add_bos());  // LlamaTokenizer's default
  write_text(dir / "tokenizer_config.json", R"({"add_bos_token": false, "add_eos_token": true})");
  t = Tokenizer::load(dir.string());
  ASSERT_TRUE(t.has_value());
  EXPECT_FALSE(t->add_bos());
  EXPECT_TRUE(t->add_eos());
  const auto ids = t->encode("Hello", true);
  EXPECT_EQ(ids.back(), t->eos_id());
  EXPECT_NE(ids.front(), t->bos_id());
}

TEST_F(SentencePieceFiles, BrokenModelFilesAreOneLineErrorsNamingTheFile) {
  const std::string good = read_text(kModel);
  const fs::path p = dir / "tokenizer.model";
  const auto with = [&](const std::string& bytes) {
    write_text(p, bytes);
    return [this] { Tokenizer::load(dir.string()); };
  };
  expect_bad_input(with(""), {p.string(), "empty"});
  expect_bad_input(with("this is not a protobuf at all \xFF\xFF\xFF\xFF"), {p.string(), "SentencePiece model"});
  expect_bad_input(with(good.substr(0, good.size() / 2)), {p.string(), "SentencePiece model"});
  expect_bad_input([] { Tokenizer::from_sentencepiece_model("/nonexistent/tokenizer.model"); },
                   {"/nonexistent/tokenizer.model", "cannot open"});
  // Beside a tokenizer.json that reads, a tokenizer.model that is not SentencePiece's is passed
  // over; beside one that does not, its own error is the one given.
  write_text(dir / "tokenizer.json", "{");
  expect_bad_input(with("not sentencepiece"), {p.string(), "SentencePiece model"});
  fs::copy_file(kData / "tokenizer.json", dir / "tokenizer.json", fs::copy_options::overwrite_existing);
  const auto t = Tokenizer::load(dir.string());
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->kind(), Tokenizer::Kind::ByteLevelBpe);
}

TEST(SentencePiece, MalformedGgufVocabulariesNameTheProblem) {
  const ferry::TokenizerData good = ferry::gguf_tokenizer_data(kGguf.string());
  const auto byte0 = static_cast<std::size_t>(
      std::find(good.tokens.begin(), good.tokens.end(), "<0x00>") - good.tokens.begin());
  ASSERT_LT(byte0, good.tokens.size());
  auto bad = [&](auto edit, std::initializer_list<std::string> parts) {
    ferry::TokenizerData d = good;
    edit(d);
    std::vector<std::string> all(parts);
    all.push_back(kGguf.string());
    try {
      Tokenizer::from_data(d);
      ADD_FAILURE() << "no BadInput for " << *parts.begin();
    } catch (const BadInput& e) {
      const std::string msg = e.what();
      for (const auto& s : all) EXPECT_NE(msg.find(s), std::string::npos) << "'" << s << "' not in: " << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
  };
  bad([](ferry::TokenizerData& d) { d.scores.pop_back(); }, {"tokenizer.ggml.scores"});
  bad([](ferry::TokenizerData& d) { d.token_type.pop_back(); }, {"tokenizer.ggml.token_type"});
  bad([](ferry::TokenizerData& d) { d.token_type[7] = 9; }, {"token_type[7]", "9"});
  bad([&](ferry::TokenizerData& d) { d.tokens[byte0 + 100] = d.tokens[byte0 + 101]; }, {"SentencePiece", "already defined"});
  bad([&](ferry::TokenizerData& d) { d.tokens[byte0 + 5] = ""; }, {"SentencePiece", "empty"});
  bad([](ferry::TokenizerData& d) {
        d.token_type[static_cast<std::size_t>(d.unk_id)] = 1;
        d.unk_id = -1;
      }, {"unk"});
  bad([&](ferry::TokenizerData& d) { d.token_type[byte0] = 1; }, {"256 byte pieces"});  // <0x00> made normal
  bad([](ferry::TokenizerData& d) { d.tokens.clear(); d.scores.clear(); d.token_type.clear(); }, {"empty"});
  // Without token_type the ids and <0xNN> names say what each piece is: the same encoding.
  ferry::TokenizerData d = good;
  d.token_type.clear();
  const auto t = Tokenizer::from_data(d);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->encode("Hello \xF0\x9F\xA4\x97 world"), from_gguf().encode("Hello \xF0\x9F\xA4\x97 world"));
}

// ---- ferry run --prompt on the GGUF file and on the Hugging Face directory ----------------------
struct RunOut {
  std::vector<std::int32_t> prompt_ids, generated_ids;
  std::string generated_text;
};

RunOut run_json(const fs::path& model, const std::string& prompt) {
  const CmdResult r = run_ferry("run -q --no-probe -m " + shell_quote(model) + " --prompt '" + prompt + "' -n 4 --json");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  if (r.exit_code != 0) return {};
  const json s = json::parse(r.out)["sequences"][0];
  EXPECT_TRUE(s.contains("generated_text")) << s.dump();
  return {s["prompt_ids"].get<std::vector<std::int32_t>>(), s["generated_ids"].get<std::vector<std::int32_t>>(),
          s.value("generated_text", std::string())};
}

TEST(SentencePiece, FerryRunTokenizesWithTheGgufAndTheHfDirectory) {
  const std::string prompt = "Hello world <sep> caf\xC3\xA9 \xF0\x9F\xA4\x97";
  const Tokenizer tok = from_model();
  std::vector<std::int32_t> expected = {tok.bos_id()};
  for (const auto id : tok.encode(prompt)) expected.push_back(id);
  const RunOut g = run_json(kGguf, prompt);
  const RunOut h = run_json(kData / "spm", prompt);
  EXPECT_EQ(g.prompt_ids, expected);
  EXPECT_EQ(h.prompt_ids, expected);
  // The same weights and tokens: the same continuation, decoded after the prompt.
  EXPECT_EQ(g.generated_ids, h.generated_ids);
  ASSERT_FALSE(g.generated_ids.empty());
  EXPECT_EQ(g.generated_text, tok.decode(g.generated_ids, expected.back()));
  EXPECT_EQ(h.generated_text, g.generated_text);

  // Streamed to stdout: the same text, the end-of-sequence token left out.
  const CmdResult t = run_ferry("run -q --no-probe -m " + shell_quote(kGguf) + " --prompt '" + prompt + "' -n 4");
  ASSERT_EQ(t.exit_code, 0) << t.err;
  std::vector<std::int32_t> shown;
  for (const auto id : g.generated_ids)
    if (id != tok.eos_id()) shown.push_back(id);
  EXPECT_EQ(t.out, tok.decode(shown, expected.back()) + "\n");
}

}  // namespace
