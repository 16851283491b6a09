// The GPT-2 byte-level BPE tokenizer against ids from an independent Python encoder
// (scripts/golden/make_tokenizer_golden.py -> tests/data/tokenizer/), in both file formats; its
// error messages; and `ferry run --prompt TEXT` on a tiny Hugging Face directory with a tokenizer.
#include "models/tokenizer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <cstdlib>
#include <functional>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "models/gguf.h"
#include "test_util.h"  // tests/models/: expect_bad_input
#include "tests/support/test_util.h"

namespace fs = std::filesystem;
using ferry::BadInput;
using ferry::Tokenizer;
using nlohmann::json;
using namespace ferry::test;

namespace {

const fs::path kData = fs::path(FERRY_TEST_DATA) / "tokenizer";

json cases_json() { return json::parse(read_text(kData / "cases.json")); }

std::string q(const fs::path& p) { return shell_quote(p); }


class TokenizerTest : public ::testing::Test {
 protected:
  void SetUp() override { dir = temp_dir("tokenizer"); }
  void TearDown() override { fs::remove_all(dir); }
  fs::path dir;
};

// The independent encoder knows no added tokens. With `eot_added` (tokenizer.json lists
// <|endoftext|> in added_tokens), a text holding it must encode as the text around it with the
// token's one id between, as Hugging Face's tokenizers do.
void check_all_cases(const Tokenizer& tok, bool eot_added = false) {
  const std::string eot = "<|endoftext|>";
  const json c = cases_json();
  ASSERT_EQ(c["version"], "tokenizer-v1");
  EXPECT_EQ(tok.vocab_size(), c["vocab_size"].get<int>());
  EXPECT_EQ(tok.num_merges(), c["num_merges"].get<std::size_t>());
  ASSERT_GE(c["cases"].size(), 30u);
  for (const auto& cs : c["cases"]) {
    const std::string text = cs["text"];
    auto expected = cs["ids"].get<std::vector<std::int32_t>>();
    if (eot_added && text.find(eot) != std::string::npos) {
      expected.clear();
      std::size_t at = 0;
      for (std::size_t hit; (hit = text.find(eot, at)) != std::string::npos; at = hit + eot.size()) {
        const auto part = tok.encode(text.substr(at, hit - at));
        expected.insert(expected.end(), part.begin(), part.end());
        expected.push_back(tok.token_id(eot));
      }
      const auto rest = tok.encode(text.substr(at));
      expected.insert(expected.end(), rest.begin(), rest.end());
      ASSERT_GE(tok.token_id(eot), 0);
    }
    EXPECT_EQ(tok.encode(text), expected) << "text: " << json(text).dump();
    EXPECT_EQ(tok.decode(expected), text) << "text: " << json(text).dump();
    EXPECT_EQ(tok.encode(text), expected) << "again (cached): " << json(text).dump();
  }
}

TEST_F(TokenizerTest, VocabAndMergesMatchTheIndependentEncoder) {
  check_all_cases(Tokenizer::from_vocab_merges((kData / "vocab.json").string(), (kData / "merges.txt").string()));
}

TEST_F(TokenizerTest, TokenizerJsonMatchesTheIndependentEncoder) {
  check_all_cases(Tokenizer::from_tokenizer_json((kData / "tokenizer.json").string()), true);
}

TEST_F(TokenizerTest, TokenizerJsonWithPairMerges) {
  json tj = json::parse(read_text(kData / "tokenizer.json"));
  json pairs = json::array();
  for (const auto& m : tj["model"]["merges"]) {
    const std::string s = m;
    const auto sp = s.find(' ');
    pairs.push_back({s.substr(0, sp), s.substr(sp + 1)});
  }
  tj["model"]["merges"] = pairs;
  write_text(dir / "tokenizer.json", tj.dump());
  const auto tok = Tokenizer::load(dir.string());
  ASSERT_TRUE(tok.has_value());
  check_all_cases(*tok, true);
}

TEST_F(TokenizerTest, LoadPrefersTokenizerJsonAndFindsNothingInAnEmptyDirectory) {
  EXPECT_FALSE(Tokenizer::load(dir.string()).has_value());
  EXPECT_FALSE(Tokenizer::load((dir / "missing").string()).has_value());
  fs::copy_file(kData / "vocab.json", dir / "vocab.json");
  fs::copy_file(kData / "merges.txt", dir / "merges.txt");
  auto a = Tokenizer::load(dir.string());
  ASSERT_TRUE(a.has_value());
  EXPECT_NE(a->source().find("merges.txt"), std::string::npos);
  fs::copy_file(kData / "tokenizer.json", dir / "tokenizer.json");
  auto b = Tokenizer::load(dir.string());
  ASSERT_TRUE(b.has_value());
  EXPECT_NE(b->source().find("tokenizer.json"), std::string::npos);
  EXPECT_EQ(a->encode("Hello world"), b->encode("Hello world"));
}

TEST_F(TokenizerTest, PreTokenisationFollowsThePattern) {
  using V = std::vector<std::string>;
  EXPECT_EQ(Tokenizer::split_words("I'm here"), (V{"I", "'m", " here"}));
  EXPECT_EQ(Tokenizer::split_words("they'll've 'S"), (V{"they", "'ll", "'ve", " '", "S"}));
  EXPECT_EQ(Tokenizer::split_words("a  b"), (V{"a", " ", " b"}));
  EXPECT_EQ(Tokenizer::split_words("a \tb"), (V{"a", " ", "\t", "b"}));
  EXPECT_EQ(Tokenizer::split_words("x   "), (V{"x", "   "}));
  EXPECT_EQ(Tokenizer::split_words("abc123 4.5!!"), (V{"abc", "123", " 4", ".", "5", "!!"}));
  EXPECT_EQ(Tokenizer::split_words("\xCE\xB1\xCE\xB2 \xE6\x9D\xB1\xE4\xBA\xAC"),  // "αβ 東京"
            (V{"\xCE\xB1\xCE\xB2", " \xE6\x9D\xB1\xE4\xBA\xAC"}));
  EXPECT_TRUE(Tokenizer::split_words("").empty());
}

TEST_F(TokenizerTest, InvalidUtf8IsKeptAsBytes) {
  const Tokenizer tok = Tokenizer::from_tokenizer_json((kData / "tokenizer.json").string());
  for (const std::string& s : {std::string("\xFF\xFE abc \xC3"), std::string("caf\xC3\xA9\x80\x80 x"),
                              std::string("nul\0byte", 8), std::string("\xED\xA0\x80 surrogate")}) {
    const auto ids = tok.encode(s);
    EXPECT_FALSE(ids.empty());
    EXPECT_EQ(tok.decode(ids), s) << json(s).dump(-1, ' ', false, json::error_handler_t::replace);
  }
  // A token cut out of a multi-byte character decodes to its bytes alone.
  const auto ids = tok.encode("\xE6\x9D\xB1");  // 東
  std::string joined;
  for (const auto id : ids) joined += tok.decode({id});
  EXPECT_EQ(joined, "\xE6\x9D\xB1");
  expect_bad_input([&] { tok.decode({tok.vocab_size()}); }, {"token id", std::to_string(tok.vocab_size())});
  expect_bad_input([&] { tok.decode({-1}); }, {"token id -1"});
}

TEST_F(TokenizerTest, MalformedFilesNameTheFile) {
  const std::string vocab = read_text(kData / "vocab.json");
  const std::string merges = read_text(kData / "merges.txt");
  const auto vm = [&](const std::string& v, const std::string& m) {
    write_text(dir / "vocab.json", v);
    write_text(dir / "merges.txt", m);
    return [this] { Tokenizer::load(dir.string()); };
  };
  const std::string vp = (dir / "vocab.json").string(), mp = (dir / "merges.txt").string();
  expect_bad_input(vm("{\"a\": ", merges), {vp, "invalid JSON"});
  expect_bad_input(vm("[1, 2]", merges), {vp, "object"});
  expect_bad_input(vm("{\"a\": \"x\"}", merges), {vp, "'a'", "not an integer"});
  expect_bad_input(vm("{\"a\": -3}", merges), {vp, "'a'"});
  expect_bad_input(vm("{\"a\": 0}", merges), {vp, "no token for byte", "byte-level"});
  json dup = json::parse(vocab);
  dup["zzz"] = 5;
  expect_bad_input(vm(dup.dump(), merges), {vp, "id 5", "two tokens"});
  expect_bad_input(vm(vocab, "#version: 0.2\nh e\nthree parts here\n"), {mp + ":3:", "two tokens"});
  expect_bad_input(vm(vocab, "#version: 0.2\nh\n"), {mp + ":2:"});
  expect_bad_input(vm(vocab, "#version: 0.2\nh e\nQQQQ e\n"), {mp, "line 3", "'QQQQ'", "not in the vocabulary"});
  // A merge whose result is not a token is malformed too.
  json no_result = json::parse(vocab);
  no_result.erase("he");
  expect_bad_input(vm(no_result.dump(), merges), {mp, "'he'", "not in the vocabulary"});
  fs::remove(dir / "merges.txt");
  expect_bad_input([&] { Tokenizer::load(dir.string()); }, {vp, "without merges.txt"});

  fs::remove(dir / "vocab.json");
  const std::string tp = (dir / "tokenizer.json").string();
  const json good = json::parse(read_text(kData / "tokenizer.json"));
  const auto tj = [&](const std::function<void(json&)>& edit) {
    json j = good;
    edit(j);
    write_text(dir / "tokenizer.json", j.dump());
    return [this] { Tokenizer::load(dir.string()); };
  };
  expect_bad_input(tj([](json& j) { j.erase("model"); }), {tp, "model"});
  expect_bad_input(tj([](json& j) { j["model"]["type"] = "Unigram"; }), {tp, "model.type", "Unigram"});
  // WordPiece is read, but not behind a byte-level pre-tokenizer.
  expect_bad_input(tj([](json& j) { j["model"]["type"] = "WordPiece"; }), {tp, "pre_tokenizer.type", "BertPreTokenizer"});
  expect_bad_input(tj([](json& j) { j["model"]["merges"][4] = 7; }), {tp, "model.merges[4]"});
  expect_bad_input(tj([](json& j) { j["model"]["merges"][2] = json::array({"h"}); }), {tp, "model.merges[2]"});
  expect_bad_input(tj([](json& j) { j["model"]["merges"][1] = "QQQQ e"; }), {tp, "model.merges[1]", "'QQQQ'"});
  expect_bad_input(tj([](json& j) { j["model"]["vocab"] = json::array(); }), {tp, "model.vocab"});
  expect_bad_input(tj([](json& j) { j["model"]["end_of_word_suffix"] = "</w>"; }), {tp, "end_of_word_suffix"});
  write_text(dir / "tokenizer.json", "{\"model\": ");
  expect_bad_input([&] { Tokenizer::load(dir.string()); }, {tp, "invalid JSON"});
}

// The tables are indexed by id: a 20-byte vocabulary with id 16777215 allocated half a gigabyte.
// Up to 65536 unused ids are fine; more are refused before anything is allocated for them.
TEST_F(TokenizerTest, SparseIdsAreRefusedBeforeAllocating) {
  const std::string merges = read_text(kData / "merges.txt");
  json vocab = json::parse(read_text(kData / "vocab.json"));
  const std::size_t n = vocab.size();
  write_text(dir / "merges.txt", merges);
  vocab["zzz"] = n + 65536;  // ids n .. n+65535 unused: the largest gap allowed
  write_text(dir / "vocab.json", vocab.dump());
  const std::optional<Tokenizer> t = Tokenizer::load(dir.string());
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->vocab_size(), static_cast<int>(n + 65537));
  EXPECT_TRUE(t->has_id(static_cast<std::int32_t>(n + 65536)));
  EXPECT_FALSE(t->has_id(static_cast<std::int32_t>(n + 1)));
  vocab["zzz"] = n + 65537;
  write_text(dir / "vocab.json", vocab.dump());
  expect_bad_input([&] { Tokenizer::load(dir.string()); },
                   {(dir / "vocab.json").string(), "id " + std::to_string(n + 65537), "unused"});
  vocab["zzz"] = 16777215;
  write_text(dir / "vocab.json", vocab.dump());
  expect_bad_input([&] { Tokenizer::load(dir.string()); }, {"id 16777215", "densely"});
}

// A tiny Hugging Face GPT-2 directory whose vocabulary holds every id of the test tokenizer.
void write_tiny_hf_dir(const fs::path& d, bool with_tokenizer) {
  fs::create_directories(d);
  const int vocab = cases_json()["vocab_size"];
  json cfg = json::parse(tiny_hf_config(2));
  cfg["vocab_size"] = vocab;
  write_text(d / "config.json", cfg.dump(2));
  auto tensors = tiny_hf_tensors(2);
  tensors["wte.weight"] = zeros_f32({vocab, 96});
  write_safetensors_raw(d / "model.safetensors", tensors);
  if (with_tokenizer) {
    fs::copy_file(kData / "vocab.json", d / "vocab.json");
    fs::copy_file(kData / "merges.txt", d / "merges.txt");
  }
}

TEST_F(TokenizerTest, FerryRunTokenizesTextPromptsAndPrintsTheText) {
  write_tiny_hf_dir(dir / "hf", true);
  const Tokenizer tok = Tokenizer::from_tokenizer_json((kData / "tokenizer.json").string());
  const std::string prompt = "Hello world, it's 2024!";
  const CmdResult r =
      run_ferry("run -q --no-probe -m " + q(dir / "hf") + " --prompt \"" + prompt + "\" -n 3 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  ASSERT_EQ(j["sequences"].size(), 1u);
  const json& s = j["sequences"][0];
  EXPECT_EQ(s["prompt_ids"].get<std::vector<std::int32_t>>(), tok.encode(prompt));
  const auto gen = s["generated_ids"].get<std::vector<std::int32_t>>();
  ASSERT_EQ(gen.size(), 3u);
  ASSERT_TRUE(s.contains("generated_text")) << s.dump();
  EXPECT_EQ(s["generated_text"].get<std::string>(), tok.decode(gen));

  const CmdResult t = run_ferry("run -q --no-probe -m " + q(dir / "hf") + " --prompt \"" + prompt + "\" -n 3");
  ASSERT_EQ(t.exit_code, 0) << t.err;
  // One text prompt: its answer is streamed to stdout, alone; the statistics go to stderr.
  EXPECT_EQ(t.out, tok.decode(gen) + "\n");

  // One text prompt per line of --prompt-file (blank lines skipped).
  write_text(dir / "p.txt", "The end.\n\nCaf\xC3\xA9 na\xC3\xAFve\r\n");
  const CmdResult f = run_ferry("run -q --no-probe -m " + q(dir / "hf") + " --prompt-file " + q(dir / "p.txt") +
                                " -n 2 --json");
  ASSERT_EQ(f.exit_code, 0) << f.err;
  const json fj = json::parse(f.out);
  ASSERT_EQ(fj["sequences"].size(), 2u);
  EXPECT_EQ(fj["sequences"][0]["prompt_ids"].get<std::vector<std::int32_t>>(), tok.encode("The end."));
  EXPECT_EQ(fj["sequences"][1]["prompt_ids"].get<std::vector<std::int32_t>>(), tok.encode("Caf\xC3\xA9 na\xC3\xAFve"));

  // With --ids the ids are taken as given, and the text is still printed.
  const CmdResult i = run_ferry("run -q --no-probe -m " + q(dir / "hf") + " --prompt '39 68 75' --ids -n 1 --json");
  ASSERT_EQ(i.exit_code, 0) << i.err;
  const json ij = json::parse(i.out);
  EXPECT_EQ(ij["sequences"][0]["prompt_ids"], json({39, 68, 75}));
  EXPECT_TRUE(ij["sequences"][0].contains("generated_text"));
}

TEST_F(TokenizerTest, FerryRunWithoutATokenizerAsksForIds) {
  write_tiny_hf_dir(dir / "hf", false);
  const CmdResult r = run_ferry("run -q --no-probe -m " + q(dir / "hf") + " --prompt 'Hello' -n 1");
  EXPECT_EQ(r.exit_code, 2);
  for (const std::string& part : std::vector<std::string>{"--prompt", "has no tokenizer",
                                                          "tokenizer.model, tokenizer.json, vocab.json/merges.txt or vocab.txt", (dir / "hf").string(),
                                                          "--ids"})
    EXPECT_NE(r.err.find(part), std::string::npos) << part << " not in: " << r.err;
  const CmdResult ids = run_ferry("run -q --no-probe -m " + q(dir / "hf") + " --prompt '1 2 3' --ids -n 1 --json");
  ASSERT_EQ(ids.exit_code, 0) << ids.err;
  EXPECT_FALSE(json::parse(ids.out)["sequences"][0].contains("generated_text"));

  write_text(dir / "m.toml", tiny_toml(2));
  const CmdResult toml = run_ferry("run -q --no-probe -m " + q(dir / "m.toml") + " --prompt-file " + q(dir / "m.toml"));
  EXPECT_EQ(toml.exit_code, 2);
  EXPECT_NE(toml.err.find("--prompt-file: model"), std::string::npos) << toml.err;
  EXPECT_NE(toml.err.find("has no tokenizer"), std::string::npos) << toml.err;

  // A malformed tokenizer is an error for text prompts.
  write_text(dir / "hf" / "tokenizer.json", "{");
  const CmdResult bad = run_ferry("run -q --no-probe -m " + q(dir / "hf") + " --prompt 'Hello' -n 1");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("tokenizer.json"), std::string::npos) << bad.err;
}

}  // namespace

// ---- GGUF-style data (from_data), streaming decode, chat templates --------------------------------
// Expected ids: scripts/tokenizer/make_tokenizer_tests.py, from Hugging Face `tokenizers`.
namespace {

bool icu_valid(const std::string& s) {  // well-formed UTF-8
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    const std::size_t n = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 ? 2 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

ferry::TokenizerData data_from_json(const json& j, const std::string& pre) {
  ferry::TokenizerData d;
  d.model = "gpt2";
  d.pre = pre;
  d.tokens = j["tokens"].get<std::vector<std::string>>();
  d.token_type = j["token_type"].get<std::vector<std::int32_t>>();
  d.merges = j["merges"].get<std::vector<std::string>>();
  d.bos_id = j["bos_id"];
  d.eos_id = j["eos_id"];
  d.origin = "test data";
  return d;
}

void check_cases(const Tokenizer& tok, const json& cases) {
  ASSERT_GE(cases.size(), 10u);
  for (const auto& cs : cases) {
    const std::string text = cs["text"];
    const auto expected = cs["ids"].get<std::vector<std::int32_t>>();
    EXPECT_EQ(tok.encode(text), expected) << "text: " << json(text).dump();
    EXPECT_EQ(tok.decode(expected), text) << "text: " << json(text).dump();
    // Streaming gives the same bytes, never cutting a UTF-8 character (all these texts are valid).
    ferry::TextStream ts(tok);
    std::string streamed;
    for (const auto id : expected) {
      const std::string piece = ts.push(id);
      EXPECT_EQ(icu_valid(piece), true) << json(text).dump();
      streamed += piece;
    }
    streamed += ts.flush();
    EXPECT_EQ(streamed, text);
  }
}

}  // namespace

TEST(TokenizerData, EachPreTokenizerMatchesHuggingFaceTokenizers) {
  const json j = json::parse(read_text(kData / "gguf_cases.json"));
  ASSERT_EQ(j["version"], "gguf-tokenizer-v1");
  for (const char* pre : {"gpt2", "smollm", "llama-bpe"}) {
    SCOPED_TRACE(pre);
    const auto tok = Tokenizer::from_data(data_from_json(j, pre));
    ASSERT_TRUE(tok.has_value());
    check_cases(*tok, j["pre"][pre]);
  }
}

TEST(TokenizerData, BosEosNoneAndUnknownPre) {
  const json j = json::parse(read_text(kData / "gguf_cases.json"));
  auto d = data_from_json(j, "gpt2");
  d.add_bos = true;
  const auto tok = Tokenizer::from_data(d);
  ASSERT_TRUE(tok.has_value());
  EXPECT_EQ(tok->bos_id(), j["bos_id"].get<int>());
  EXPECT_EQ(tok->eos_id(), j["eos_id"].get<int>());
  EXPECT_TRUE(tok->add_bos());
  const auto ids = tok->encode("Hello", true);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids[0], tok->bos_id());
  EXPECT_EQ(std::vector<std::int32_t>(ids.begin() + 1, ids.end()), tok->encode("Hello"));
  ferry::TokenizerData none;
  none.model = "none";
  EXPECT_FALSE(Tokenizer::from_data(none).has_value());
  d.pre = "qwen9";
  expect_bad_input([&] { Tokenizer::from_data(d); }, {"qwen9", "test data"});
  d.pre = "gpt2";
  d.model = "bert";
  expect_bad_input([&] { Tokenizer::from_data(d); }, {"bert"});
}

TEST(TextStream, HoldsBackAnIncompleteCharacter) {
  // Single-byte tokens: "é" is two byte tokens; the first alone gives nothing.
  const json j = json::parse(read_text(kData / "gguf_cases.json"));
  const auto tok = Tokenizer::from_data(data_from_json(j, "gpt2"));
  const auto ids = tok->encode("\xC3\xA9\xF0\x9F\xA4\x97!");  // é🤗!
  ferry::TextStream ts(*tok);
  std::string all;
  for (const auto id : ids) all += ts.push(id);
  EXPECT_EQ(all + ts.flush(), "\xC3\xA9\xF0\x9F\xA4\x97!");
  ferry::TextStream t2(*tok);
  const auto e = tok->encode("\xF0\x9F\xA4\x97");
  std::string got;
  for (std::size_t k = 0; k + 1 < e.size(); ++k) got += t2.push(e[k]);
  if (e.size() > 1) {
    EXPECT_EQ(got, "");
  }
  EXPECT_EQ(got + t2.push(e.back()), "\xF0\x9F\xA4\x97");
  // An incomplete character at the end comes out raw from flush().
  ferry::TextStream t3(*tok);
  EXPECT_EQ(t3.push(tok->encode("\xC3\xA9")[0]) + t3.flush(), tok->decode({tok->encode("\xC3\xA9")[0]}));
}

TEST(ChatTemplate, ChatMLLlama3AndOthers) {
  const std::string smol =
      "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n"
      "You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + "
      "message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ "
      "'<|im_start|>assistant\n' }}{% endif %}";
  // What jinja2 renders for [{"role": "user", "content": "What is 2+2?"}], add_generation_prompt.
  EXPECT_EQ(ferry::apply_chat_template(smol, "What is 2+2?", ""),
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
            "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(ferry::apply_chat_template("{{'<|im_start|>' + message['role']}}", "hi", ""),
            "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(ferry::apply_chat_template("{{ '<|start_header_id|>' }}", "hi", "<|begin_of_text|>"),
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
  expect_bad_input([] { ferry::apply_chat_template("[INST] {{ x }}", "hi", ""); },
                   {"unsupported chat template (recognised: ChatML, LLaMA 3)"});
  const json j = json::parse(read_text(kData / "gguf_cases.json"));
  auto d = data_from_json(j, "gpt2");
  d.eos_id = 0;
  const auto tok = Tokenizer::from_data(d);
  const ferry::ChatTemplate ct(smol);
  EXPECT_EQ(ct.stop_ids(*tok), (std::vector<std::int32_t>{0, tok->token_id("<|im_end|>")}));
}

// The real vocabulary, read from SmolLM2's GGUF as `ferry run` reads it (FERRY_SMOLLM2_GGUF, set
// by scripts/test after scripts/smollm2 fetched it), against ids from Hugging Face `tokenizers` on
// the same vocabulary (scripts/tokenizer/make_tokenizer_tests.py GGUF, committed).
TEST(TokenizerData, SmolLM2MatchesHuggingFaceTokenizers) {
  const char* path = std::getenv("FERRY_SMOLLM2_GGUF");
  if (!path || !fs::exists(path)) GTEST_SKIP() << "FERRY_SMOLLM2_GGUF unset: SmolLM2's vocabulary not checked";
  const json j = json::parse(read_text(kData / "smollm2_cases.json"));
  ASSERT_EQ(j["version"], "smollm2-tokenizer-v1");
  const ferry::TokenizerData data = ferry::gguf_tokenizer_data(path);
  EXPECT_EQ(data.pre, j["pre"].get<std::string>());
  const auto tok = Tokenizer::from_data(data);
  ASSERT_TRUE(tok.has_value());
  EXPECT_EQ(tok->bos_id(), j["bos_id"].get<int>());
  EXPECT_EQ(tok->eos_id(), j["eos_id"].get<int>());
  check_cases(*tok, j["cases"]);
  EXPECT_EQ(ferry::apply_chat_template(tok->chat_template(), "What is 2+2?", ""), j["chat_rendered"].get<std::string>());
  EXPECT_EQ(ferry::ChatTemplate(tok->chat_template()).stop_ids(*tok), (std::vector<std::int32_t>{2}));
}

// Hugging Face tokenizer directories in SmolLM2's and LLaMA 3's shapes (tokenizer.json with their
// pre-tokenizers, added tokens and LLaMA 3's BOS post-processor; tokenizer_config.json with the
// bos/eos tokens and chat template), against `tokenizers` with add_special_tokens=True and the
// chat prompt jinja2 renders (scripts/tokenizer/make_tokenizer_tests.py).
TEST(HfTokenizer, SmolLMAndLlama3DirectoriesMatchHuggingFaceTokenizers) {
  const json j = json::parse(read_text(kData / "hf_cases.json"));
  ASSERT_EQ(j["version"], "hf-tokenizer-v1");
  for (const char* name : {"hf-smollm", "hf-llama3"}) {
    SCOPED_TRACE(name);
    const json& c = j[name];
    const auto tok = Tokenizer::load((kData / name).string());
    ASSERT_TRUE(tok.has_value());
    EXPECT_EQ(tok->bos_id(), c["bos_id"].get<int>());
    EXPECT_EQ(tok->eos_id(), c["eos_id"].get<int>());
    EXPECT_EQ(tok->add_bos(), std::string(name) == "hf-llama3");
    for (const auto& cs : c["cases"]) {
      const std::string text = cs["text"];
      EXPECT_EQ(tok->encode(text, true), cs["ids"].get<std::vector<std::int32_t>>()) << json(text).dump();
    }
    const std::string rendered = ferry::apply_chat_template(tok->chat_template(), "What is 2+2?", "");
    // ferry leaves the BOS to encode(..., true); jinja2 wrote it into the text.
    const std::string bos = tok->add_bos() ? tok->decode({tok->bos_id()}) : "";
    EXPECT_EQ(bos + rendered, c["chat_rendered"].get<std::string>());
    EXPECT_EQ(tok->encode(rendered, true), c["chat_ids"].get<std::vector<std::int32_t>>());
  }
}

TEST(HfTokenizer, UnsupportedPreTokenizerAndUnknownBosAreOneLineErrors) {
  const fs::path dir = fs::path(::testing::TempDir()) / "hf-bad-tokenizer";
  fs::create_directories(dir);
  json tj = json::parse(read_text(kData / "hf-llama3" / "tokenizer.json"));
  tj["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "_"}};
  write_text(dir / "tokenizer.json", tj.dump());
  expect_bad_input([&] { Tokenizer::load(dir.string()); }, {"tokenizer.json: pre_tokenizer", "Metaspace", "not supported"});
  tj = json::parse(read_text(kData / "hf-llama3" / "tokenizer.json"));
  tj["post_processor"] = nullptr;  // so the BOS comes from tokenizer_config.json
  write_text(dir / "tokenizer.json", tj.dump());
  write_text(dir / "tokenizer_config.json", R"({"bos_token": "<s>"})");
  expect_bad_input([&] { Tokenizer::load(dir.string()); }, {"bos_token '<s>' is not an added token"});
  write_text(dir / "tokenizer_config.json", R"({"add_bos_token": "yes"})");
  expect_bad_input([&] { Tokenizer::load(dir.string()); }, {"tokenizer_config.json: add_bos_token"});
}
