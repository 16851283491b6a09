// `ferry bench` suites (their output schema), --compare, `ferry run --report`, and the helpers
// behind them (length distributions, tables, comparisons).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <cctype>
#include <set>

#include "base/error.h"
#include "runtime/bench/lengths.h"
#include "runtime/bench/suites.h"
#include "runtime/bench/table.h"
#include "tests/pressure/experiment_util.h"

namespace fs = std::filesystem;
using namespace ferry::test;
using nlohmann::json;

namespace {

class Bench : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(temp_dir("bench"));
    write_text(*dir_ / "m.toml", tiny_toml(4));
    write_fixed_probe(*dir_ / "probe.json");
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }
  // Runs `ferry bench SUITE` on the tiny model; returns the command's result.
  static CmdResult bench(const std::string& suite, const std::string& args, const std::string& out) {
    // fusion times ops on the backend alone: no engine, no pack file, so it rejects --pack-dir.
    const std::string pack = suite == "fusion" ? "" : " --pack-dir " + quoted(*dir_);
    return run_ferry("bench " + suite + " -q -m " + quoted(*dir_ / "m.toml") + " --threads 1 --repeats 1 --warmup 0 " +
                     args + pack + " --out " + quoted(*dir_ / out));
  }
  // The suite's JSON: every row has every column of meta.columns, and the CSV has them as header.
  static json check_files(const std::string& suite, const std::string& out, std::size_t rows) {
    const json j = read_json_file(*dir_ / out / (suite + ".json"));
    EXPECT_EQ(j["meta"]["suite"], suite);
    EXPECT_EQ(j["meta"]["tool"], "ferry bench");
    EXPECT_TRUE(j["meta"]["commit"].is_string());
    EXPECT_TRUE(j["meta"]["machine"].contains("device_name"));
    EXPECT_TRUE(j["meta"]["knobs"].contains("batch_sizes"));
    const auto columns = j["meta"]["columns"].get<std::vector<std::string>>();
    EXPECT_FALSE(columns.empty());
    EXPECT_EQ(j["points"].size(), rows);
    for (const json& p : j["points"])
      for (const std::string& c : columns) EXPECT_TRUE(p.contains(c)) << suite << ": " << c;
    const auto csv = read_csv(*dir_ / out / (suite + ".csv"));
    EXPECT_EQ(csv.size(), rows + 1);
    if (!csv.empty()) {
      EXPECT_EQ(csv[0], columns);
    }
    return j;
  }
  static fs::path* dir_;
};
fs::path* Bench::dir_ = nullptr;

TEST_F(Bench, NestedVsPadded) {
  const CmdResult r = bench("nested-vs-padded",
                            "--batch-size 1,4 --padding-fractions 0,0.5 --avg-seqlen 8 --seqlen-stdev 3 --max-seqlen 16",
                            "nvp");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("speedup_vs_padded"), std::string::npos) << r.out;
  const json j = check_files("nested-vs-padded", "nvp", 8);  // 2 batch sizes x 2 fractions x 2 layouts
  for (std::size_t i = 0; i + 1 < j["points"].size(); i += 2) {
    const json& nested = j["points"][i];
    const json& padded = j["points"][i + 1];
    ASSERT_EQ(nested["layout"], "nested");
    ASSERT_EQ(padded["layout"], "padded");
    EXPECT_EQ(nested["real_tokens"], padded["real_tokens"]);
    EXPECT_EQ(nested["computed_tokens"], nested["real_tokens"]);
    EXPECT_EQ(padded["computed_tokens"].get<int>(), padded["batch_size"].get<int>() * padded["max_len"].get<int>());
    EXPECT_LE(nested["workspace_bytes"].get<std::uint64_t>(), padded["workspace_bytes"].get<std::uint64_t>());
    for (const json* p : {&nested, &padded}) {
      EXPECT_TRUE(positive(*p, "latency_ms"));
      EXPECT_TRUE(positive(*p, "tokens_per_s"));
      EXPECT_TRUE(positive(*p, "workspace_bytes"));
      EXPECT_NE((*p)["plan"].get<std::string>().find("resident"), std::string::npos) << (*p)["plan"];
      EXPECT_TRUE((*p)["plan_notes"].is_array());
    }
    if (nested["batch_size"] == 4 && nested["padding_target"] == 0.5) {
      EXPECT_NEAR(nested["padding_fraction"].get<double>(), 0.5, 0.1);
      EXPECT_LT(nested["workspace_bytes"].get<std::uint64_t>(), padded["workspace_bytes"].get<std::uint64_t>());
    }
  }
}

// The padding study on the tiny golden BERT (hidden 45, 40 positions): one row per point, the two
// layouts' first-token states agree, the padding matches its target, and the peak memory measured
// from outside (RSS) covers at least what ferry allocated and faulted in for the pass.
TEST_F(Bench, EncoderPaddingStudy) {
  const fs::path model = fs::path(FERRY_TEST_DATA) / "bert" / "model";
  const CmdResult r = run_ferry("bench encoder -q -m " + quoted(model) +
                                " --threads 1 --repeats 2 --warmup 1 --max-seqlen 16,40 --batch-size 4,64"
                                " --padding-fractions 0,0.5 --seqlen-stdev 4 --max-tokens 1280 --out " +
                                quoted(*dir_ / "enc"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("memory_saved_pct"), std::string::npos) << r.out;
  const json j = check_files("encoder", "enc", 6);  // 2 x 2 x 2 less 64 x 40 (2 fractions): 2560 > 1280
  ASSERT_EQ(j["meta"]["skipped_points"].size(), 2u);
  EXPECT_EQ(j["meta"]["skipped_points"][0]["padded_tokens"], 2560);
  for (const json& p : j["points"]) {
    SCOPED_TRACE(p.dump());
    const auto lengths = p["lengths"].get<std::vector<int>>();
    ASSERT_EQ(lengths.size(), p["batch_size"].get<std::size_t>());
    EXPECT_EQ(*std::max_element(lengths.begin(), lengths.end()), p["max_seqlen"].get<int>());
    EXPECT_NEAR(p["padding_fraction"].get<double>(), p["padding_target"].get<double>(), 0.1);
    EXPECT_LT(p["cls_max_abs_diff"].get<double>(), 1e-4);
    EXPECT_TRUE(positive(p, "nested_ms"));
    EXPECT_TRUE(positive(p, "padded_ms"));
    EXPECT_EQ(p["memory_source"], "rss");
    ASSERT_TRUE(p["nested_peak_bytes"].is_number()) << "the RSS peak could not be reset";
    // Linux caches RSS counts per thread and folds them in every 64 page faults, so VmRSS / VmHWM
    // may lag by 64 pages per thread: 512 KiB of slack for the two threads that touch memory here.
    for (const char* side : {"nested", "padded"})
      EXPECT_GE(p[std::string(side) + "_peak_bytes"].get<double>(),
                0.9 * p[std::string(side) + "_counted_bytes"].get<double>() - 512 * 1024)
          << side << ": RSS saw less than the pass allocated";
    if (p["padding_target"] == 0.5 && p["batch_size"] == 64) {
      EXPECT_LT(p["nested_counted_bytes"].get<double>(), 0.6 * p["padded_counted_bytes"].get<double>());
      EXPECT_LT(p["nested_peak_bytes"].get<double>(), p["padded_peak_bytes"].get<double>());
      EXPECT_GT(p["memory_saved_pct"].get<double>(), 0);
    }
  }
}

TEST_F(Bench, EncoderSuiteErrors) {
  const std::string bert = quoted(fs::path(FERRY_TEST_DATA) / "bert" / "model");
  const CmdResult decoder = bench("encoder", "--batch-size 2", "enc-decoder");
  EXPECT_EQ(decoder.exit_code, 2);
  EXPECT_NE(decoder.err.find("is a decoder"), std::string::npos) << decoder.err;
  const CmdResult too_long = run_ferry("bench encoder -q -m " + bert + " --max-seqlen 41 --out " + quoted(*dir_ / "enc-long"));
  EXPECT_EQ(too_long.exit_code, 2);
  EXPECT_NE(too_long.err.find("--max-seqlen 41 exceeds the 40 positions"), std::string::npos) << too_long.err;
  const CmdResult list = bench("nested-vs-padded", "--max-seqlen 16,32", "nvp-list");
  EXPECT_EQ(list.exit_code, 2);
  EXPECT_NE(list.err.find("--max-seqlen: the nested-vs-padded suite takes one value"), std::string::npos) << list.err;
  const CmdResult tokens = bench("decode", "--max-tokens 10 --no-probe", "dec-tokens");
  EXPECT_EQ(tokens.exit_code, 2);
  EXPECT_NE(tokens.err.find("--max-tokens: the decode suite does not use it"), std::string::npos) << tokens.err;
}

TEST_F(Bench, Streams) {
  const CmdResult r = bench("streams",
                            "--budget 60% --policy stream --stream-counts 1,2 --depths 1,2 --prompt-len 4 --gen 3 "
                            "--batch-size 2 --probe " + quoted(*dir_ / "probe.json"),
                            "streams");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = check_files("streams", "streams", 4);
  for (const json& p : j["points"]) {
    SCOPED_TRACE(p.dump());
    EXPECT_TRUE(p["error"].is_null());
    EXPECT_TRUE(positive(p, "decode_tokens_per_s"));
    EXPECT_TRUE(positive(p, "bound_fraction"));
    EXPECT_TRUE(positive(p, "bytes_h2d"));
    EXPECT_LE(p["plan_streams"].get<int>(), p["streams"].get<int>());
    EXPECT_LE(p["peak_resident_bytes"].get<std::uint64_t>(), p["budget_bytes"].get<std::uint64_t>());
  }
}

TEST_F(Bench, StreamsNeedsABudget) {
  const CmdResult r = bench("streams", "--no-probe", "streams-nobudget");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--budget"), std::string::npos) << r.err;
}

TEST_F(Bench, Fusion) {
  const CmdResult r = bench("fusion", "--batch-size 3 --avg-seqlen 6 --max-seqlen 8 --iters 2", "fusion");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = check_files("fusion", "fusion", 8);  // 4 ops x {fused, unfused}
  std::set<std::string> ops;
  for (const json& p : j["points"]) {
    SCOPED_TRACE(p["op"].get<std::string>() + " " + p["variant"].get<std::string>());
    ops.insert(p["op"].get<std::string>());
    EXPECT_TRUE(positive(p, "ms"));
    EXPECT_TRUE(positive(p, "speedup"));
    EXPECT_LT(p["max_abs_diff"].get<double>(), 1e-3) << "fused and unfused must agree";
    const bool unfused_scores = p["variant"] == "unfused" && (p["op"] == "attention" || p["op"] == "layer");
    const std::uint64_t scores = 3ull * p["max_len"].get<std::uint64_t>() * p["max_len"].get<std::uint64_t>() * 4;
    EXPECT_EQ(p["workspace_bytes"].get<std::uint64_t>(), unfused_scores ? scores : 0u);
  }
  EXPECT_EQ(ops, (std::set<std::string>{"add_layernorm", "linear_gelu", "attention", "layer"}));
}

TEST_F(Bench, DecodeAndPrefillAgainstTheBound) {
  for (const char* suite : {"decode", "prefill"}) {
    SCOPED_TRACE(suite);
    const std::string out = std::string("tp-") + suite;
    const std::string gen = std::string(suite) == "decode" ? " --gen 3" : "";  // prefill generates nothing
    const CmdResult r = bench(suite,
                              "--policy um-prefetch --budget 60% --batch-size 1,2 --prompt-len 4" + gen + " --probe " +
                                  quoted(*dir_ / "probe.json"),
                              out);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = check_files(suite, out, 2);
    for (const json& p : j["points"]) {
      EXPECT_TRUE(p["error"].is_null()) << p["error"];
      EXPECT_TRUE(positive(p, "tokens_per_s"));
      EXPECT_TRUE(positive(p, "bound_tokens_per_s"));
      EXPECT_TRUE(positive(p, "fraction"));
      EXPECT_EQ(p["policy"], "um-prefetch");
    }
  }
}

TEST_F(Bench, CompareRatiosMatchRows) {
  const std::string args = "--batch-size 2 --padding-fractions 0.25 --avg-seqlen 6 --max-seqlen 10";
  ASSERT_EQ(bench("nested-vs-padded", args, "cmp-a").exit_code, 0);
  const CmdResult r =
      bench("nested-vs-padded", args + " --compare " + quoted(*dir_ / "cmp-a" / "nested-vs-padded.json"), "cmp-b");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("compared with"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2 rows matched, 0 new"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1.000x"), std::string::npos) << "workspace bytes are identical: " << r.out;
  // A results file of another suite is refused before anything runs.
  ASSERT_EQ(bench("fusion", "--batch-size 1 --avg-seqlen 3 --max-seqlen 4 --iters 1", "cmp-f").exit_code, 0);
  const CmdResult bad =
      bench("nested-vs-padded", args + " --compare " + quoted(*dir_ / "cmp-f" / "fusion.json"), "cmp-c");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--compare"), std::string::npos) << bad.err;
}

TEST_F(Bench, UnknownSuiteIsBadInput) {
  const CmdResult r = bench("warp-drive", "", "unknown");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown suite"), std::string::npos) << r.err;
}

// A flag the suite does not read is an error naming the flag and the suite, before anything runs
// (no results directory is made).
TEST_F(Bench, AFlagTheSuiteIgnoresIsRejected) {
  struct Case {
    const char* suite;
    const char* args;
    const char* flag;
  };
  const Case cases[] = {
      {"fusion", "--policy um", "--policy"},
      {"fusion", "--budget 50%", "--budget"},
      {"fusion", "--probe p.json", "--probe"},
      {"fusion", "--gen 4", "--gen"},
      {"decode", "--iters 3", "--iters"},
      {"decode", "--avg-seqlen 9", "--avg-seqlen"},
      {"prefill", "--gen 4", "--gen"},
      {"streams", "--budget 50% --streams 2", "--streams"},
      {"streams", "--budget 50% --prefetch-depth 2", "--prefetch-depth"},
      {"streams", "--budget 50% --padding-fractions 0.5", "--padding-fractions"},
      {"nested-vs-padded", "--layout padded", "--layout"},
      {"nested-vs-padded", "--stream-counts 1,2", "--stream-counts"},
      {"nested-vs-padded", "--no-probe", "--no-probe"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.suite) + " " + c.args);
    const std::string out = std::string("ignored-") + c.suite;
    const CmdResult r = bench(c.suite, c.args, out);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find(std::string(c.flag) + ": the " + c.suite + " suite does not use it"), std::string::npos)
        << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
    EXPECT_FALSE(fs::exists(*dir_ / out)) << "nothing may run before the check";
  }
  // The streams suite runs one batch size: a list would be silently cut to its first value.
  const CmdResult r = bench("streams", "--budget 50% --batch-size 1,2", "ignored-batches");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--batch-size: the streams suite runs one batch size"), std::string::npos) << r.err;
}

// The table of which suite reads which flag knows every flag `ferry bench --help` lists: a flag
// added without a row would be an internal error at run time, not a silent pass.
TEST_F(Bench, EveryBenchFlagIsInTheSuiteTable) {
  const CmdResult help = run_ferry("bench --help");
  ASSERT_EQ(help.exit_code, 0);
  // Every "--name" in the help text ([a-z-]+, ending in a letter). A scan, not std::regex, whose
  // GCC 12 headers trip -Werror=maybe-uninitialized in the ASan build.
  std::set<std::string> flags;
  for (std::size_t at = help.out.find("--"); at != std::string::npos; at = help.out.find("--", at + 2)) {
    std::size_t end = at + 2;
    while (end < help.out.size() && (std::islower(static_cast<unsigned char>(help.out[end])) || help.out[end] == '-')) ++end;
    while (end > at + 2 && help.out[end - 1] == '-') --end;
    const std::string flag = help.out.substr(at, end - at);
    if (end - at > 3 && std::islower(static_cast<unsigned char>(flag[2])) && flag != "--help") flags.insert(flag);
    at = end - 2;
  }
  EXPECT_GT(flags.size(), 25u) << help.out;
  for (const std::string& flag : flags) {
    for (const std::string& suite : ferry::bench::bench_suite_names()) {
      try {
        ferry::bench::check_suite_flags(suite, {flag}, 1);
      } catch (const ferry::BadInput&) {
        // read by other suites: fine here
      } catch (const std::exception& e) {
        ADD_FAILURE() << flag << " (" << suite << "): " << e.what();
      }
    }
  }
}

TEST_F(Bench, RunReportHasTheLayerTableAndTheVerdict) {
  const std::string base = "run -q -m " + quoted(*dir_ / "m.toml") + " --prompt '1 2 3' --ids -n 3 --policy stream"
                           " --budget 60% --report --pack-dir " + quoted(*dir_);
  const CmdResult r = run_ferry(base + " --probe " + quoted(*dir_ / "probe.json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* s : {"per layer", "prefetch wait", "compute", "static", "L0", "L3", "streamed", "resident",
                        "verdict: decode at", "of the bound", "limited by"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << " in:\n" << r.out;

  const CmdResult js = run_ferry(base + " --json --probe " + quoted(*dir_ / "probe.json"));
  ASSERT_EQ(js.exit_code, 0) << js.err;
  const json rep = json::parse(js.out)["report"];
  ASSERT_EQ(rep["layers"].size(), 5u) << "static + 4 layers";
  EXPECT_EQ(rep["steps_kind"], "decode");
  int streamed = 0;
  for (const json& l : rep["layers"]) {
    if (l["layer"] == "static") continue;
    streamed += l["lives"] == "streamed";
    EXPECT_TRUE(positive(l, "compute_ms")) << l.dump();
    EXPECT_GE(l["prefetch_wait_ms"].get<double>(), 0.0);
    EXPECT_TRUE(positive(l, "bytes"));
  }
  EXPECT_GT(streamed, 0);
  EXPECT_NE(rep["verdict"].get<std::string>().find("verdict: decode at"), std::string::npos);

  // The trace of the same run: lanes named by stream, intervals named by layer.
  const CmdResult tr = run_ferry(base + " --no-probe --trace " + quoted(*dir_ / "trace.json"));
  ASSERT_EQ(tr.exit_code, 0) << tr.err;
  std::set<std::string> lanes, names;
  const json trace = read_json_file(*dir_ / "trace.json");
  for (const json& e : trace["traceEvents"]) {
    if (e["ph"] == "M") lanes.insert(e["args"]["name"].get<std::string>());
    else names.insert(e["name"].get<std::string>());
  }
  EXPECT_TRUE(lanes.count("compute") && lanes.count("copy 1")) << json(lanes).dump();
  EXPECT_TRUE(names.count("compute L0") && names.count("prefetch L3") && names.count("evict L0")) << json(names).dump();

  const CmdResult none = run_ferry(base + " --no-probe");
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_NE(none.out.find("verdict: no bound"), std::string::npos) << none.out;
}

TEST(BenchHelpers, LengthsAreSeededClippedAndHitThePadding) {
  ferry::bench::LengthDistribution d;
  d.avg = 20;
  d.stdev = 15;
  d.max = 32;
  d.seed = 9;
  const auto a = ferry::bench::draw_lengths(200, d);
  EXPECT_EQ(a, ferry::bench::draw_lengths(200, d));
  d.seed = 10;
  EXPECT_NE(a, ferry::bench::draw_lengths(200, d));
  double mean = 0;
  for (int l : a) {
    EXPECT_TRUE(l >= 1 && l <= 32) << l;
    mean += l;
  }
  EXPECT_NEAR(mean / 200, 20, 3);  // clipping moves it a little
  for (double target : {0.0, 0.3, 0.6}) {
    const auto l = ferry::bench::lengths_for_padding(16, target, d);
    EXPECT_EQ(*std::max_element(l.begin(), l.end()), 32);
    EXPECT_NEAR(ferry::bench::padding_fraction(l), target, 0.02) << target;
  }
  EXPECT_DOUBLE_EQ(ferry::bench::padding_fraction({4, 4}), 0.0);
  EXPECT_DOUBLE_EQ(ferry::bench::padding_fraction({4, 2}), 0.25);
}

TEST(BenchHelpers, CompareRowsAndCells) {
  const json old_doc = {{"points", {{{"k", 1}, {"v", 2.0}}, {{"k", 2}, {"v", 4.0}}}}};
  const json now_doc = {{"points", {{{"k", 2}, {"v", 6.0}}, {{"k", 3}, {"v", 1.0}}}}};
  const json cmp = ferry::bench::compare_rows(old_doc, now_doc, {"k"}, {"v"});
  EXPECT_EQ(cmp["matched"], 1);
  EXPECT_EQ(cmp["unmatched"], 1);
  EXPECT_DOUBLE_EQ(cmp["rows"][0]["ratios"]["v"].get<double>(), 1.5);
  EXPECT_FALSE(cmp["rows"][1]["match"].get<bool>());
  const std::string text = ferry::bench::format_comparison(cmp, {"k"}, {"v"});
  EXPECT_NE(text.find("1.500x"), std::string::npos) << text;
  EXPECT_NE(text.find("new"), std::string::npos) << text;
  EXPECT_EQ(ferry::bench::cell_text(json(nullptr)), "");
  EXPECT_EQ(ferry::bench::cell_text(json(3.0)), "3");
  EXPECT_EQ(ferry::bench::cell_text(json(0.125)), "0.125");
}

}  // namespace
