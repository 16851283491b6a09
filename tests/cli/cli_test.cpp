// The command line contracts of DESIGN.md, end to end through the `ferry` binary.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "models/npy.h"
#include "tests/support/test_util.h"

namespace fs = std::filesystem;
using namespace ferry::test;

namespace {

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = temp_dir("cli");
    write_text(dir / "m.toml", tiny_toml());
    write_text(dir / "p.txt", "1 2 3 4\n7\n9 8 7 6 5 4 3\n");
  }
  void TearDown() override { fs::remove_all(dir); }
  static std::string q(const fs::path& p) { return shell_quote(p); }
  fs::path dir;
};

TEST_F(Cli, HelpExitsZeroAndExplainsFlags) {
  const CmdResult r = run_ferry("run --help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* flag : {"--policy", "--budget", "--prefetch-depth", "--streams", "--logits-out", "--json"})
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
}

TEST_F(Cli, JsonLogitsAndGreedyContract) {
  const CmdResult r = run_ferry("run -q -m " + q(dir / "m.toml") + " --prompt-file " + q(dir / "p.txt") +
                                " --ids --logits-out " + q(dir / "l.npy") + " --json -n 5 --sampling greedy");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["sequences"].size(), 3u);
  EXPECT_EQ(j["sequences"][0]["prompt_ids"], nlohmann::json({1, 2, 3, 4}));
  EXPECT_EQ(j["sequences"][1]["prompt_ids"], nlohmann::json({7}));
  for (const auto& s : j["sequences"]) {
    ASSERT_EQ(s["generated_ids"].size(), 5u);
    for (const auto& id : s["generated_ids"]) EXPECT_LT(id.get<int>(), 101);
  }
  for (const char* k : {"prefill_s", "decode_s", "prefill_tokens_per_s", "decode_tokens_per_s", "bytes_h2d",
                        "budget_bytes", "peak_resident_bytes"})
    EXPECT_TRUE(j["stats"].contains(k)) << k;
  EXPECT_EQ(j["stats"]["prompt_tokens"], 12);
  const ferry::NpyF32 logits = ferry::read_npy_f32((dir / "l.npy").string());
  EXPECT_EQ(logits.rows, 12);
  EXPECT_EQ(logits.cols, 101);
  EXPECT_EQ(logits.data.size(), 12u * 101u);
}

TEST_F(Cli, PromptOnlyWithZeroTokens) {
  const CmdResult r = run_ferry("run -q -m " + q(dir / "m.toml") + " --prompt-file " + q(dir / "p.txt") + " --ids --json -n 0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  for (const auto& s : j["sequences"]) EXPECT_TRUE(s["generated_ids"].empty());
}

TEST_F(Cli, PoliciesGiveTheSameTokensAndHonourTheBudget) {
  std::string reference;
  for (const char* policy : {"resident", "um", "um-prefetch", "stream", "auto"}) {
    const std::string budget = std::string(policy) == "resident" ? "" : " --budget 60%";
    const CmdResult r = run_ferry("run -q -m " + q(dir / "m.toml") + " --prompt-file " + q(dir / "p.txt") +
                                  " --ids --json -n 4 --policy " + policy + budget + " --pack-dir " + q(dir));
    ASSERT_EQ(r.exit_code, 0) << policy << ": " << r.err;
    const auto j = nlohmann::json::parse(r.out);
    const std::string seqs = j["sequences"].dump();
    if (reference.empty()) reference = seqs;
    EXPECT_EQ(seqs, reference) << policy;
    EXPECT_LE(j["stats"]["peak_resident_bytes"].get<std::uint64_t>(), j["stats"]["budget_bytes"].get<std::uint64_t>());
  }
}

TEST_F(Cli, TraceIsChromeJson) {
  const CmdResult r = run_ferry("run -q -m " + q(dir / "m.toml") + " --prompt '1 2' --ids -n 2 --policy stream --budget 60% --trace " +
                                q(dir / "t.json") + " --pack-dir " + q(dir));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(read_text(dir / "t.json"));
  ASSERT_TRUE(j.contains("traceEvents"));
  int computes = 0, prefetches = 0;
  for (const auto& e : j["traceEvents"]) {
    const std::string name = e.value("name", "");
    if (name.rfind("compute", 0) == 0) ++computes;
    if (name.rfind("prefetch", 0) == 0) ++prefetches;
  }
  EXPECT_EQ(computes, 3 * 2);  // 3 blocks x (prefill + 1 decode step)
  EXPECT_GT(prefetches, 0);
}

TEST_F(Cli, InspectShowsPacksAndPlan) {
  const CmdResult r = run_ferry("inspect -m gpt3-13b --budget 25%");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("40 layers"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("L39"), std::string::npos);
  EXPECT_NE(r.out.find("the plan of `ferry run` with these flags (--budget 25%): "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tiers: device "), std::string::npos) << r.out;
}

TEST_F(Cli, ExportThenRunFromTheDirectoryGivesTheSameTokens) {
  const CmdResult e = run_ferry("export -q -m " + q(dir / "m.toml") + " --out " + q(dir / "hf"));
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_TRUE(fs::exists(dir / "hf" / "config.json"));
  EXPECT_TRUE(fs::exists(dir / "hf" / "model.safetensors"));
  const std::string common = " --prompt-file " + q(dir / "p.txt") + " --ids --json -n 4";
  const CmdResult a = run_ferry("run -q -m " + q(dir / "m.toml") + common);
  const CmdResult b = run_ferry("run -q -m " + q(dir / "hf") + common);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(nlohmann::json::parse(a.out)["sequences"], nlohmann::json::parse(b.out)["sequences"]);
}

TEST_F(Cli, LoadingACheckpointStreamsPeakRssStaysNearTheModel) {
  // 8 layers of hidden 512 and a vocabulary of 8192: ~112 MB of f32 weights.
  write_text(dir / "med.toml",
             "[model]\nvocab_size = 8192\ncontext_length = 64\nhidden_size = 512\nnum_layers = 8\n"
             "num_heads = 8\ndtype = \"f32\"\n[weights]\nrandom = true\nseed = 3\n");
  const CmdResult e = run_ferry("export -q -m " + q(dir / "med.toml") + " --out " + q(dir / "med"));
  ASSERT_EQ(e.exit_code, 0) << e.err;
  auto peak = [&](const std::string& model, std::uint64_t* model_bytes) {
    const CmdResult r = run_ferry("run -q --no-probe -m " + model + " --policy resident -n 0 --json");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const auto st = nlohmann::json::parse(r.out)["stats"];
    *model_bytes = st["model_bytes"].get<std::uint64_t>();
    return st["peak_host_rss_bytes"].get<std::uint64_t>();
  };
  std::uint64_t model = 0;
  // The same weights generated in place: the process's own footprint (libraries, CUDA runtime,
  // sanitizer shadow) plus the packs, with no checkpoint involved.
  const std::uint64_t generated = peak(q(dir / "med.toml"), &model);
  const std::uint64_t loaded = peak(q(dir / "med"), &model);
  // Holding the mapped checkpoint beside the packs would add about the whole model again.
  EXPECT_LT(loaded, generated + model / 2) << "peak RSS " << loaded << " loading the checkpoint vs " << generated
                                           << " generating the same weights (model " << model << " bytes)";
}

}  // namespace
