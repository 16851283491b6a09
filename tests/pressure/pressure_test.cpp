// `ferry pressure` end to end: one small grid (4-layer tiny model, budgets 100% / 60% / 30% x
// policies um / stream) is run once; the tests check its results files: every column present, the
// numbers present and positive where they must be, the budget honoured in every row, the impossible
// budget (30% < one layer + the static weights) as error rows, the timelines, and the plots.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "runtime/bench/measure.h"
#include "runtime/pressure.h"
#include "tests/pressure/experiment_util.h"

namespace fs = std::filesystem;
using namespace ferry::test;
using nlohmann::json;

namespace {

class Pressure : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(temp_dir("pressure"));
    write_text(*dir_ / "m.toml", tiny_toml(4));
    write_fixed_probe(*dir_ / "probe.json");
    run_ = new CmdResult(run_ferry("pressure -q -m " + quoted(*dir_ / "m.toml") +
                                   " --budgets 100%,60%,30% --policies um,stream --prompt-len 4 --gen 3"
                                   " --repeats 2 --warmup 1 --threads 1 --no-plots --probe " +
                                   quoted(*dir_ / "probe.json") + " --pack-dir " + quoted(*dir_) + " --out " +
                                   quoted(*dir_ / "out")));
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
    delete run_;
  }
  static json results() { return read_json_file(*dir_ / "out" / "results.json"); }
  static fs::path* dir_;
  static CmdResult* run_;
};
fs::path* Pressure::dir_ = nullptr;
CmdResult* Pressure::run_ = nullptr;

TEST_F(Pressure, RunsAndPrintsTheTable) {
  ASSERT_EQ(run_->exit_code, 0) << run_->err;
  EXPECT_NE(run_->out.find("decode_tokens_per_s"), std::string::npos) << run_->out;
  EXPECT_NE(run_->out.find("6 points (2 errors"), std::string::npos) << run_->out;
}

TEST_F(Pressure, CsvHasEveryColumnAndOneRowPerPoint) {
  ASSERT_EQ(run_->exit_code, 0) << run_->err;
  const auto csv = read_csv(*dir_ / "out" / "results.csv");
  ASSERT_EQ(csv.size(), 7u) << "header + 6 points (3 budgets x 2 policies)";
  EXPECT_EQ(csv[0], ferry::pressure_columns());
  for (std::size_t r = 1; r < csv.size(); ++r) EXPECT_EQ(csv[r].size(), csv[0].size()) << "row " << r;
  for (const char* col : {"policy", "budget", "prefetch_depth", "streams", "batch", "decode_tokens_per_s",
                          "decode_tokens_per_s_min", "decode_tokens_per_s_max", "prefill_tokens_per_s", "step_ms",
                          "bytes_h2d", "bytes_d2h", "link_bps", "probed_link_bps", "bound_fraction",
                          "peak_device_allocated_bytes", "peak_device_reserved_bytes", "peak_resident_bytes",
                          "peak_rss_bytes", "minor_faults", "major_faults", "gpu_page_faults", "um_bytes_h2d",
                          "um_bytes_d2h", "error"})
    EXPECT_NE(std::find(csv[0].begin(), csv[0].end(), col), csv[0].end()) << col;
}

TEST_F(Pressure, JsonHasMetaPointsAndEveryNumber) {
  ASSERT_EQ(run_->exit_code, 0) << run_->err;
  const json j = results();
  const json& meta = j["meta"];
  EXPECT_EQ(meta["tool"], "ferry pressure");
  EXPECT_TRUE(meta["commit"].is_string());
  EXPECT_TRUE(meta["machine"].contains("device_name"));
  EXPECT_EQ(meta["knobs"]["budgets"], json({"100%", "60%", "30%"}));
  EXPECT_EQ(meta["knobs"]["repeats"], 2);
  EXPECT_DOUBLE_EQ(meta["probe"]["h2d_bps"].get<double>(), 1e9);
  ASSERT_EQ(j["points"].size(), 6u);
  int ok = 0;
  for (const json& p : j["points"]) {
    SCOPED_TRACE(p["policy"].get<std::string>() + " @ " + p["budget"].get<std::string>());
    for (const std::string& col : ferry::pressure_columns()) EXPECT_TRUE(p.contains(col)) << col;
    if (!p["error"].is_null()) continue;
    ++ok;
    for (const char* col : {"decode_tokens_per_s", "decode_tokens_per_s_min", "decode_tokens_per_s_max",
                            "prefill_tokens_per_s", "step_ms", "step_ms_min", "step_ms_max", "load_s",
                            "probed_link_bps", "probed_memory_bps", "bound_step_ms", "bound_fraction",
                            "bound_decode_tokens_per_s", "budget_bytes", "model_bytes", "peak_resident_bytes",
                            "peak_device_allocated_bytes", "peak_device_reserved_bytes", "peak_rss_bytes",
                            "batch_buffer_bytes"})
      EXPECT_TRUE(positive(p, col));
    for (const char* col : {"bytes_h2d", "bytes_d2h", "minor_faults", "major_faults", "fetches", "evictions"})
      EXPECT_TRUE(p[col].is_number() && p[col].get<double>() >= 0) << col << " = " << p[col].dump();
    for (const char* col : {"gpu_page_faults", "um_bytes_h2d", "um_bytes_d2h"})
      EXPECT_TRUE(p[col].is_null()) << col << " is CUDA-only (--gpu-page-faults), got " << p[col].dump();
    EXPECT_LE(p["decode_tokens_per_s_min"].get<double>(), p["decode_tokens_per_s"].get<double>());
    EXPECT_LE(p["decode_tokens_per_s"].get<double>(), p["decode_tokens_per_s_max"].get<double>());
    EXPECT_EQ(p["plan_policy"], p["policy"]);
    EXPECT_EQ(p["decode_steps"], 2);
    EXPECT_TRUE(p["limited_by"].is_string());
    if (p["budget"] == "60%" && p["policy"] == "stream") {
      EXPECT_TRUE(positive(p, "bytes_h2d")) << "stream at 60% copies layers every step";
      EXPECT_TRUE(positive(p, "link_bps"));
      EXPECT_GT(p["streamed_layers"].get<int>(), 0);
    }
  }
  EXPECT_EQ(ok, 4);
}

TEST_F(Pressure, BudgetIsHonouredInEveryRow) {
  ASSERT_EQ(run_->exit_code, 0) << run_->err;
  const json j = results();
  ASSERT_EQ(j["points"].size(), 6u);
  for (const json& p : j["points"]) {
    if (!p["error"].is_null()) continue;
    EXPECT_LE(p["peak_resident_bytes"].get<std::uint64_t>(), p["budget_bytes"].get<std::uint64_t>())
        << p["policy"] << " @ " << p["budget"];
  }
}

TEST_F(Pressure, ImpossibleBudgetsAreErrorRows) {
  ASSERT_EQ(run_->exit_code, 0) << run_->err;
  int errors = 0;
  const json j = results();
  for (const json& p : j["points"]) {
    if (p["budget"] != "30%") {
      EXPECT_TRUE(p["error"].is_null()) << p["error"];
      continue;
    }
    ++errors;
    ASSERT_TRUE(p["error"].is_string());
    EXPECT_NE(p["error"].get<std::string>().find("smaller than one layer"), std::string::npos) << p["error"];
    EXPECT_TRUE(p["decode_tokens_per_s"].is_null());
    EXPECT_TRUE(positive(p, "budget_bytes"));
  }
  EXPECT_EQ(errors, 2);
}

TEST_F(Pressure, TimelineOfOneStepPerPolicyAtItsLowestBudget) {
  ASSERT_EQ(run_->exit_code, 0) << run_->err;
  const json tl = results()["timelines"];
  for (const char* policy : {"um", "stream"}) {
    SCOPED_TRACE(policy);
    ASSERT_TRUE(tl.contains(policy));
    EXPECT_EQ(tl[policy]["budget"], "60%") << "the lowest budget that runs";
    EXPECT_EQ(tl[policy]["step"], 1);
    std::set<std::string> lanes, kinds;
    for (const json& r : tl[policy]["records"]) {
      lanes.insert(r["lane"].get<std::string>());
      kinds.insert(r["kind"].get<std::string>());
      EXPECT_GE(r["end_us"].get<double>(), r["begin_us"].get<double>());
      EXPECT_GE(r["begin_us"].get<double>(), 0.0);
    }
    EXPECT_TRUE(lanes.count("compute"));
    EXPECT_TRUE(kinds.count("compute"));
  }
  bool prefetch = false;
  for (const json& r : tl["stream"]["records"]) prefetch = prefetch || r["kind"] == "prefetch";
  EXPECT_TRUE(prefetch) << "stream at 60% prefetches layers in every step";
}

TEST_F(Pressure, ProbeOmittedLeavesTheBoundColumnsNull) {
  const fs::path out = *dir_ / "noprobe";
  const CmdResult r = run_ferry("pressure -q -m " + quoted(*dir_ / "m.toml") +
                                " --budgets 60% --policies stream --prompt-len 4 --gen 2 --repeats 1 --warmup 0"
                                " --no-probe --no-plots --pack-dir " + quoted(*dir_) + " --out " + quoted(out));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json p = read_json_file(out / "results.json")["points"][0];
  EXPECT_TRUE(p["bound_fraction"].is_null());
  EXPECT_TRUE(p["probed_link_bps"].is_null());
  EXPECT_TRUE(positive(p, "decode_tokens_per_s"));
}

TEST_F(Pressure, PlotsArePngAndSvg) {
  if (!system_python_has_matplotlib()) GTEST_SKIP() << "/usr/bin/python3 has no matplotlib: plots not checked";
  const fs::path out = *dir_ / "plots";
  const CmdResult r = run_ferry("pressure -q -m " + quoted(*dir_ / "m.toml") +
                                " --budgets 100%,60% --policies um,stream --prompt-len 4 --gen 2 --repeats 1"
                                " --warmup 0 --probe " + quoted(*dir_ / "probe.json") + " --pack-dir " +
                                quoted(*dir_) + " --out " + quoted(out));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("plots written"), std::string::npos) << r.out;
  for (const char* name : {"throughput_vs_budget", "fraction_vs_budget", "timeline"})
    for (const char* ext : {".png", ".svg"}) {
      const fs::path f = out / (std::string(name) + ext);
      EXPECT_TRUE(fs::exists(f) && fs::file_size(f) > 1000) << f;
    }
}

TEST_F(Pressure, ReuseCheckpointExportsOnceAndLoadsFromIt) {
  const fs::path out = *dir_ / "ckpt";
  const CmdResult r = run_ferry("pressure -q -m " + quoted(*dir_ / "m.toml") +
                                " --budgets 100% --policies um --prompt-len 4 --gen 2 --repeats 1 --warmup 0"
                                " --no-probe --no-plots --reuse-checkpoint --pack-dir " + quoted(*dir_) + " --out " +
                                quoted(out));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(out / "checkpoint" / "config.json"));
  EXPECT_TRUE(fs::exists(out / "checkpoint" / "model.safetensors"));
  const json j = read_json_file(out / "results.json");
  EXPECT_TRUE(j["meta"]["knobs"]["reuse_checkpoint"].get<bool>());
  EXPECT_TRUE(j["points"][0]["error"].is_null());
}

TEST(PressureFlags, BadInputsExitTwo) {
  const fs::path dir = temp_dir("pressure-bad");
  write_text(dir / "m.toml", tiny_toml(2));
  const std::string base = "pressure -q --no-probe --no-plots -m " + quoted(dir / "m.toml") + " --out " + quoted(dir / "o");
  for (const char* extra : {" --policies warp", " --budgets 10furlongs", " --repeats 0", " --prompt-len 30 --gen 16",
                            " --prefetch-depths 0", " --gpu-page-faults"}) {
    const CmdResult r = run_ferry(base + extra);
    EXPECT_EQ(r.exit_code, 2) << extra << ": " << r.err;
    EXPECT_NE(r.err.find("error"), std::string::npos) << extra;
  }
  const CmdResult gpf = run_ferry(base + " --prompt-len 8 --gen 4 --gpu-page-faults");
  EXPECT_NE(gpf.err.find("needs --device cuda"), std::string::npos) << gpf.err;
  fs::remove_all(dir);
}

TEST(PressureHelpers, SpreadAndSyntheticPrompts) {
  const ferry::bench::Spread s = ferry::bench::spread_of({3.0, 1.0, 2.0, 10.0});
  EXPECT_DOUBLE_EQ(s.median, 2.5);
  EXPECT_DOUBLE_EQ(s.min, 1.0);
  EXPECT_DOUBLE_EQ(s.max, 10.0);
  EXPECT_EQ(ferry::bench::spread_of({}).count, 0u);
  const auto a = ferry::bench::synthetic_prompts(3, 5, 101);
  const auto b = ferry::bench::synthetic_prompts(3, 5, 101);
  EXPECT_EQ(a, b);
  ASSERT_EQ(a.size(), 3u);
  EXPECT_NE(a[0], a[1]);
  for (const auto& p : a) {
    EXPECT_EQ(p.size(), 5u);
    for (auto id : p) EXPECT_TRUE(id >= 0 && id < 101);
  }
}

}  // namespace
