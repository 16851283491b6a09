// Bad input gets a clear one-line error and exit code 2 (3 for resources), never a crash.
// Each case runs the real `ferry` binary.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/support/test_util.h"

namespace fs = std::filesystem;
using namespace ferry::test;

namespace {

// The message is one line, names `needle`, and the exit code is `code`.
void expect_error(const CmdResult& r, int code, const std::string& needle) {
  EXPECT_EQ(r.exit_code, code) << "stderr: " << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << "stderr should name '" << needle << "': " << r.err;
  EXPECT_NE(r.err.find("error"), std::string::npos) << r.err;
  // one line: a single trailing newline and nothing after it
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "expected one line, got: " << r.err;
}

class BadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = temp_dir("bad");
    write_text(dir / "p.txt", "1 2 3\n4 5\n");
  }
  void TearDown() override { fs::remove_all(dir); }
  static std::string q(const fs::path& p) { return shell_quote(p); }
  // A Hugging Face directory of the tiny model whose tensors were edited by `edit`.
  fs::path hf_dir(const std::function<void(std::map<std::string, RawTensor>&)>& edit, const std::string& name) {
    fs::path d = dir / name;
    fs::create_directories(d);
    write_text(d / "config.json", tiny_hf_config());
    auto t = tiny_hf_tensors();
    edit(t);
    write_safetensors_raw(d / "model.safetensors", t);
    return d;
  }
  std::string run_args(const fs::path& model) { return "run -q -m " + q(model) + " --prompt-file " + q(dir / "p.txt") + " --ids -n 2"; }
  fs::path dir;
};

TEST_F(BadInput, MalformedToml) {
  write_text(dir / "m.toml", "[model\nname = \"x\"\n");
  expect_error(run_ferry("run -q -m " + q(dir / "m.toml") + " --prompt 1 --ids"), 2, "m.toml");
}

TEST_F(BadInput, UnknownTomlKey) {
  write_text(dir / "m.toml", tiny_toml(3, 7, "hiden_size_typo = 3\n"));
  const CmdResult r = run_ferry("run -q -m " + q(dir / "m.toml") + " --prompt 1 --ids");
  expect_error(r, 2, "hiden_size_typo");
  EXPECT_NE(r.err.find("m.toml"), std::string::npos) << r.err;
}

TEST_F(BadInput, MissingRequiredKey) {
  std::string t = tiny_toml();
  t.erase(t.find("hidden_size = 96\n"), 17);
  write_text(dir / "m.toml", t);
  expect_error(run_ferry("run -q -m " + q(dir / "m.toml") + " --prompt 1 --ids"), 2, "hidden_size");
}

TEST_F(BadInput, UnknownModelName) {
  expect_error(run_ferry("run -q -m no-such-model --prompt 1 --ids"), 2, "no-such-model");
}

TEST_F(BadInput, CheckpointMissingTensor) {
  auto d = hf_dir([](auto& t) { t.erase("h.1.mlp.c_fc.bias"); }, "missing");
  expect_error(run_ferry(run_args(d)), 2, "h.1.mlp.c_fc.bias");
}

TEST_F(BadInput, CheckpointWrongShape) {
  auto d = hf_dir([](auto& t) { t["h.0.attn.c_attn.weight"] = zeros_f32({96, 96}); }, "shape");
  expect_error(run_ferry(run_args(d)), 2, "h.0.attn.c_attn.weight");
}

TEST_F(BadInput, CheckpointWrongDtype) {
  auto d = hf_dir(
      [](auto& t) {
        RawTensor& x = t["h.2.ln_2.bias"];
        x.dtype = "I64";
        x.data.resize(x.data.size() * 2);
      },
      "dtype");
  expect_error(run_ferry(run_args(d)), 2, "h.2.ln_2.bias");
}

TEST_F(BadInput, TruncatedSafetensors) {
  auto d = hf_dir([](auto&) {}, "trunc");
  const auto size = fs::file_size(d / "model.safetensors");
  fs::resize_file(d / "model.safetensors", size / 2);
  expect_error(run_ferry(run_args(d)), 2, "model.safetensors");
}

TEST_F(BadInput, HeaderLengthPastEndOfFile) {
  fs::path d = dir / "hdr";
  fs::create_directories(d);
  write_text(d / "config.json", tiny_hf_config());
  std::ofstream f(d / "model.safetensors", std::ios::binary);
  const unsigned char len[8] = {0xff, 0xff, 0xff, 0x00, 0, 0, 0, 0};
  f.write(reinterpret_cast<const char*>(len), 8);
  f << "{}";
  f.close();
  expect_error(run_ferry(run_args(d)), 2, "model.safetensors");
}

TEST_F(BadInput, OffsetsPastTheFile) {
  fs::path d = dir / "past";
  fs::create_directories(d);
  write_text(d / "config.json", tiny_hf_config());
  std::map<std::string, RawTensor> t;
  t["wte.weight"] = zeros_f32({101, 96});
  const std::string header =
      R"({"wte.weight":{"dtype":"F32","shape":[101,96],"data_offsets":[0,99999999]}})";
  write_safetensors_raw(d / "model.safetensors", t, header);
  expect_error(run_ferry(run_args(d)), 2, "wte.weight");
}

TEST_F(BadInput, OverlappingTensors) {
  fs::path d = dir / "overlap";
  fs::create_directories(d);
  write_text(d / "config.json", tiny_hf_config());
  std::map<std::string, RawTensor> t;
  t["a"] = zeros_f32({16});
  t["b"] = zeros_f32({16});
  const std::string header = R"({"a":{"dtype":"F32","shape":[16],"data_offsets":[0,64]},)"
                             R"("b":{"dtype":"F32","shape":[16],"data_offsets":[32,96]}})";
  write_safetensors_raw(d / "model.safetensors", t, header);
  expect_error(run_ferry(run_args(d)), 2, "overlap");
}

TEST_F(BadInput, TokenIdOutOfVocab) {
  write_text(dir / "m.toml", tiny_toml());
  write_text(dir / "big.txt", "1 2 101\n");
  const CmdResult r = run_ferry("run -q -m " + q(dir / "m.toml") + " --prompt-file " + q(dir / "big.txt") + " --ids");
  expect_error(r, 2, "101");
}

TEST_F(BadInput, PromptLongerThanContext) {
  write_text(dir / "m.toml", tiny_toml());
  std::string line;
  for (int i = 0; i < 40; ++i) line += std::to_string(i % 100) + " ";
  write_text(dir / "long.txt", line + "\n");
  expect_error(run_ferry("run -q -m " + q(dir / "m.toml") + " --prompt-file " + q(dir / "long.txt") + " --ids -n 0"), 2,
               "context");
}

TEST_F(BadInput, EmptyPromptFile) {
  write_text(dir / "m.toml", tiny_toml());
  write_text(dir / "empty.txt", "\n\n");
  expect_error(run_ferry("run -q -m " + q(dir / "m.toml") + " --prompt-file " + q(dir / "empty.txt") + " --ids"), 2,
               "empty.txt");
}

TEST_F(BadInput, NonNumericToken) {
  write_text(dir / "m.toml", tiny_toml());
  write_text(dir / "words.txt", "1 two 3\n");
  expect_error(run_ferry("run -q -m " + q(dir / "m.toml") + " --prompt-file " + q(dir / "words.txt") + " --ids"), 2,
               "words.txt:1");
}

// The encoder commands (ferry embed, fill-mask, classify) on the tiny golden BERT checkpoints of
// tests/data/bert (40 positions, vocabulary 97, no tokenizer: ids in, --ids).
class EncoderBadInput : public BadInput {
 protected:
  static fs::path bert(const char* which) { return fs::path(FERRY_TEST_DATA) / "bert" / which; }
  std::string embed(const std::string& file) {
    return "embed -q -m " + q(bert("model")) + " --ids --prompt-file " + q(dir / file);
  }
};

TEST_F(EncoderBadInput, SequenceLongerThanThePositions) {
  std::string line;
  for (int i = 0; i < 41; ++i) line += std::to_string(1 + i % 90) + " ";
  write_text(dir / "long.txt", "2 3\n" + line + "\n");
  const CmdResult r = run_ferry(embed("long.txt"));
  expect_error(r, 2, "input 2: 41 tokens exceed the model's 40 positions");
  EXPECT_NE(r.err.find("max_position_embeddings"), std::string::npos) << r.err;
}

TEST_F(EncoderBadInput, EmptyLineNamesTheFileAndLine) {
  write_text(dir / "gap.txt", "2 5 7\n\n3 4\n");
  expect_error(run_ferry(embed("gap.txt")), 2, "gap.txt:2: empty line");
}

TEST_F(EncoderBadInput, IdAtOrAboveTheVocabulary) {
  write_text(dir / "ids.txt", "2 5 96\n2 97\n");
  expect_error(run_ferry(embed("ids.txt")), 2, "input 2: token id 97 is out of range for vocab size 97");
}

TEST_F(EncoderBadInput, CheckpointWithoutTheHeadTheCommandNeeds) {
  expect_error(run_ferry("fill-mask -q -m " + q(bert("model")) + " --ids --prompt '2 3 4'"), 2,
               "lacks a masked-LM head");
  expect_error(run_ferry("classify -q -m " + q(bert("masked_lm")) + " --ids --prompt '2 3 4'"), 2,
               "lacks a sequence classification head");
  expect_error(run_ferry("classify -q -m " + q(bert("model")) + " --ids --question '2 3' --context '4 5'"), 2,
               "lacks a question answering head");
  expect_error(run_ferry("embed -q -m " + q(bert("masked_lm")) + " --ids --prompt '2 3 4' --pooling pooler"), 2,
               "lacks a pooler");
}

TEST_F(BadInput, BudgetSmallerThanOneLayerIsResourceExhausted) {
  write_text(dir / "m.toml", tiny_toml());
  expect_error(run_ferry("run -q -m " + q(dir / "m.toml") + " --prompt 1 --ids --policy um-prefetch --budget 1MiB"), 3,
               "budget");
}

TEST_F(BadInput, UnknownFlag) {
  expect_error(run_ferry("run --no-such-flag"), 2, "no-such-flag");
}

TEST_F(BadInput, BadPolicyAndBudgetValues) {
  write_text(dir / "m.toml", tiny_toml());
  expect_error(run_ferry("run -q -m " + q(dir / "m.toml") + " --prompt 1 --ids --policy fast"), 2, "--policy");
  expect_error(run_ferry("run -q -m " + q(dir / "m.toml") + " --prompt 1 --ids --budget 12parsecs"), 2, "--budget");
  expect_error(run_ferry("run -q -m " + q(dir / "m.toml") + " --prompt 1 --ids --budget 150%"), 2, "--budget");
}

TEST_F(BadInput, MissingPromptFile) {
  expect_error(run_ferry("run -q --prompt-file " + q(dir / "nope.txt") + " --ids"), 2, "nope.txt");
}

// Issue 9: a hidden size of 800,000,000 overflowed 3 * hidden and the parameter count, and
// `inspect` printed a model of 9.3 million TiB. Now it is refused, naming the file and the key.
TEST_F(BadInput, InspectRefusesAHiddenSizeAboveTheLimit) {
  std::string t = tiny_toml();
  t.replace(t.find("hidden_size = 96"), 16, "hidden_size = 800000000");
  write_text(dir / "m.toml", t);
  const CmdResult r = run_ferry("inspect -m " + q(dir / "m.toml"));
  expect_error(r, 2, "model.hidden_size");
  EXPECT_NE(r.err.find("m.toml"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("800000000"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("TiB"), std::string::npos) << r.out;

  fs::create_directories(dir / "hf");
  std::string c = tiny_hf_config();
  const std::size_t at = c.find("\"n_embd\"");
  ASSERT_NE(at, std::string::npos) << c;
  c.replace(at, c.find(',', at) - at, "\"n_embd\": 800000000");
  write_text(dir / "hf" / "config.json", c);
  const CmdResult h = run_ferry("inspect -m " + q(dir / "hf"));
  expect_error(h, 2, "n_embd");
  EXPECT_NE(h.err.find("config.json"), std::string::npos) << h.err;
}

// Issue 9: bytes that reached TOML++ assertions (and its __builtin_unreachable) end in exit 2.
TEST_F(BadInput, TomlThatReachedParserAssertions) {
  write_text(dir / "nul.toml", std::string("[\0", 2));
  expect_error(run_ferry("inspect -m " + q(dir / "nul.toml")), 2, "nul.toml:1:2");
  write_text(dir / "e.toml", "a=1\xc3\xa9");
  expect_error(run_ferry("inspect -m " + q(dir / "e.toml")), 2, "e.toml:1:4");
  write_text(dir / "dot.toml", "[.");
  expect_error(run_ferry("inspect -m " + q(dir / "dot.toml")), 2, "dot.toml");
}

}  // namespace
