// `ferry probe` and `ferry run --probe / --no-probe`, end to end through the binary.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "memory/probe.h"
#include "tests/support/test_util.h"

namespace fs = std::filesystem;
using namespace ferry::test;

namespace {

class ProbeCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = temp_dir("probe-cli");
    write_text(dir / "m.toml", tiny_toml(4));
  }
  void TearDown() override { fs::remove_all(dir); }
  static std::string q(const fs::path& p) { return shell_quote(p); }
  fs::path dir;
};

TEST_F(ProbeCli, ProbePrintsATableAndWritesJson) {
  const CmdResult r = run_ferry("probe --bytes 2MiB --repeats 2 --threads 1 --scratch-dir " + q(dir) + " --out " +
                                q(dir / "p.json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* word : {"h2d", "d2h", "disk", "prefetch", "fault", "memory", "gemm", "GB/s", "GFLOP/s", "noise",
                           "um-prefetch", "compute", "link"})
    EXPECT_NE(r.out.find(word), std::string::npos) << word << " in\n" << r.out;
  const ferry::ProbeResult p = ferry::load_probe((dir / "p.json").string());
  EXPECT_EQ(p.device, "cpu");
  EXPECT_EQ(p.bytes, std::uint64_t{2} << 20);
  EXPECT_EQ(p.repeats, 2);
  EXPECT_FALSE(p.commit.empty());
  EXPECT_FALSE(p.when.empty());
  EXPECT_FALSE(p.host.empty());
  EXPECT_GT(p.h2d_bps, 0);
  EXPECT_GT(p.device_bps, 0);
}

TEST_F(ProbeCli, ProbeWritesToTheCurrentDirectoryByDefault) {
  const fs::path cwd = fs::current_path();
  fs::current_path(dir);
  const CmdResult r = run_ferry("probe --bytes 1MiB --repeats 1 --json --scratch-dir " + q(dir));
  fs::current_path(cwd);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir / "ferry-probe-cpu.json"));
  EXPECT_EQ(nlohmann::json::parse(r.out)["device"], "cpu");
}

TEST_F(ProbeCli, BadProbeFlagsExitTwo) {
  for (const std::string args : {"probe --repeats 0", "probe --bytes 12parsecs", "probe --bytes 1k",
                                 "probe --device tpu", "probe --bytes 1MiB --repeats 1 --scratch-dir /nonexistent/x"}) {
    const CmdResult r = run_ferry(args + " --out " + q(dir / "x.json"));
    EXPECT_EQ(r.exit_code, 2) << args << ": " << r.err;
    EXPECT_NE(r.err.find("error"), std::string::npos) << args;
  }
}

TEST_F(ProbeCli, RunReportsTheBoundOfASavedProbe) {
  ASSERT_EQ(run_ferry("probe --bytes 2MiB --repeats 1 --scratch-dir " + q(dir) + " --out " + q(dir / "p.json")).exit_code,
            0);
  const CmdResult r = run_ferry("run -q -m " + q(dir / "m.toml") + " -n 3 --policy stream --budget 40% --pack-dir " +
                                q(dir) + " --probe " + q(dir / "p.json") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto bound = nlohmann::json::parse(r.out)["stats"]["bound"];
  ASSERT_TRUE(bound.is_object()) << r.out;
  EXPECT_EQ(bound["steps"].size(), 3u);
  EXPECT_EQ(bound["link_bps"].get<double>(), ferry::load_probe((dir / "p.json").string()).h2d_bps);
  EXPECT_GT(bound["decode_fraction"].get<double>(), 0);

  const CmdResult t = run_ferry("run -q -m " + q(dir / "m.toml") + " -n 3 --policy stream --budget 40% --pack-dir " +
                                q(dir) + " --probe " + q(dir / "p.json"));
  ASSERT_EQ(t.exit_code, 0) << t.err;
  // "bound      decode at 0.63 of the bound (link-bound: 1.2 GB/s streamed of 1.9 GB/s probed)"
  EXPECT_NE(t.out.find("bound      decode at "), std::string::npos) << t.out;
  EXPECT_NE(t.out.find(" of the bound ("), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("-bound: "), std::string::npos) << t.out;
  EXPECT_TRUE(t.out.find(" GB/s probed") != std::string::npos || t.out.find(" GFLOP/s") != std::string::npos) << t.out;
}

TEST_F(ProbeCli, RunWithoutAProbeMeasuresAQuickOneUnlessToldNot) {
  const CmdResult quick = run_ferry("run -q -m " + q(dir / "m.toml") + " -n 2 --pack-dir " + q(dir) + " --json");
  ASSERT_EQ(quick.exit_code, 0) << quick.err;
  const auto bound = nlohmann::json::parse(quick.out)["stats"]["bound"];
  ASSERT_TRUE(bound.is_object());
  EXPECT_GT(bound["memory_bps"].get<double>(), 0);
  EXPECT_EQ(bound["steps"].size(), 2u);

  const CmdResult none = run_ferry("run -q -m " + q(dir / "m.toml") + " -n 2 --no-probe --json");
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_TRUE(nlohmann::json::parse(none.out)["stats"]["bound"].is_null());
  const CmdResult text = run_ferry("run -q -m " + q(dir / "m.toml") + " -n 2 --no-probe");
  EXPECT_NE(text.out.find("bound      not measured"), std::string::npos) << text.out;
}

TEST_F(ProbeCli, BadProbeFilesExitTwoNamingTheFile) {
  write_text(dir / "bad.json", "{\"device\": \"cpu\", \"h2d_bps\": -3}");
  write_text(dir / "gpu.json", ferry::probe_to_json([] {
               ferry::ProbeResult p;
               p.device = "cuda";
               p.h2d_bps = p.d2h_bps = p.managed_prefetch_bps = p.fault_bps = p.device_bps = 1e9;
               return p;
             }()));
  for (const char* name : {"missing.json", "bad.json", "gpu.json"}) {
    const CmdResult r = run_ferry("run -q -m " + q(dir / "m.toml") + " -n 1 --probe " + q(dir / name));
    EXPECT_EQ(r.exit_code, 2) << name << ": " << r.err;
    EXPECT_NE(r.err.find(name == std::string("gpu.json") ? "--probe" : name), std::string::npos) << r.err;
  }
  const CmdResult both = run_ferry("run -q -m " + q(dir / "m.toml") + " --no-probe --probe " + q(dir / "bad.json"));
  EXPECT_EQ(both.exit_code, 2) << both.err;
}

}  // namespace
