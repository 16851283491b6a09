// Flags do what they say, end to end through the `ferry` binary: a flag the run would ignore is
// an error naming it, --threads is validated and reported, and the pack file's directory is chosen
// on disk and said.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "tests/support/test_util.h"

namespace fs = std::filesystem;
using namespace ferry::test;

namespace {

class Flags : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = temp_dir("flags");
    write_text(dir / "m.toml", tiny_toml());
    run = "run -q -m " + shell_quote(dir / "m.toml") + " --prompt '1 2 3' --ids -n 2 --no-probe ";
  }
  void TearDown() override { fs::remove_all(dir); }
  // An exit code of 2 with one line on stderr holding every one of `parts`.
  static void expect_bad_input(const CmdResult& r, std::initializer_list<std::string> parts) {
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
    for (const std::string& p : parts) EXPECT_NE(r.err.find(p), std::string::npos) << p << " in: " << r.err;
  }
  // `ferry ARGS` with HOME and XDG_CACHE_HOME set as given (empty = unset).
  CmdResult ferry_with_env(const std::string& home, const std::string& xdg, const std::string& args) {
    const fs::path out = dir / "env-out", err = dir / "env-err";
    std::string env = "env -u XDG_CACHE_HOME";
    if (!home.empty()) env += " HOME=" + shell_quote(home);
    if (!xdg.empty()) env += " XDG_CACHE_HOME=" + shell_quote(xdg);
    const std::string cmd = env + " " + FERRY_BINARY + " " + args + " >" + shell_quote(out) + " 2>" +
                            shell_quote(err) + " </dev/null";
    const int status = std::system(cmd.c_str());
    CmdResult r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = read_text(out);
    r.err = read_text(err);
    return r;
  }
  fs::path dir;
  std::string run;
};

TEST_F(Flags, SamplingFlagsWithoutSamplingSampleAreAnError) {
  for (const char* flag : {"--temperature 0.7", "--top-k 5", "--top-p 0.9", "--seed 3"}) {
    SCOPED_TRACE(flag);
    const std::string name = std::string(flag).substr(0, std::string(flag).find(' '));
    expect_bad_input(run_ferry(run + flag), {name + ":", "add --sampling sample"});
    expect_bad_input(run_ferry(run + "--sampling greedy " + flag), {name + ":", "--sampling greedy"});
  }
  const CmdResult ok = run_ferry(run + "--sampling sample --temperature 0.7 --top-k 5 --top-p 0.9 --seed 3 --json");
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(nlohmann::json::parse(ok.out)["sequences"][0]["generated_ids"].size(), 2u);
}

TEST_F(Flags, IdsWithoutAPromptIsAnError) {
  const CmdResult r = run_ferry("run -q -m " + shell_quote(dir / "m.toml") + " --ids -n 1 --no-probe");
  expect_bad_input(r, {"--ids:"});
}

TEST_F(Flags, ThreadsIsValidatedAndReported) {
  expect_bad_input(run_ferry(run + "--threads -1"), {"--threads:", ">= 0", "-1"});
  expect_bad_input(run_ferry("probe --threads -2 --bytes 1MiB --repeats 1 --out " + shell_quote(dir / "p.json")),
                   {"--threads:", "-2"});
  for (const std::string n : {"1", "2"}) {
    const CmdResult r = run_ferry(run + "--json --threads " + n);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string name = nlohmann::json::parse(r.out)["machine"]["device_name"].get<std::string>();
    const std::string want = std::string("(").append(n).append(" threads)");
    EXPECT_NE(name.find(want), std::string::npos) << name;
  }
}

TEST_F(Flags, CudaFlagsOnTheCpuAreAnError) {
  for (const char* flag : {"--gpu-mem-limit 1GiB", "--max-seqs 4", "--max-batch-tokens 64", "--allow-oversubscribe"}) {
    SCOPED_TRACE(flag);
    const std::string name = std::string(flag).substr(0, std::string(flag).find(' '));
    expect_bad_input(run_ferry(run + flag), {name + ":", "--device cpu"});
  }
}

TEST_F(Flags, ThePackFileGoesToTheCacheDirectoryOnDiskAndRunSaysSo) {
  // A fake HOME on disk (temp_dir may be a tmpfs on other machines: then ~/.cache/ferry is passed over).
  const fs::path home = dir / "home";
  fs::create_directories(home);
  const CmdResult r = ferry_with_env(home.string(), "",
                                     "run -m " + shell_quote(dir / "m.toml") +
                                         " --prompt '1 2 3' --ids -n 2 --no-probe --policy um --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json stats = nlohmann::json::parse(r.out)["stats"];
  ASSERT_TRUE(stats["pack_dir"].is_string()) << stats.dump();
  const std::string fs_type = stats["pack_fs"].get<std::string>();
  EXPECT_NE(fs_type, "tmpfs");
  EXPECT_NE(fs_type, "ramfs");
  const std::string cache = (home / ".cache" / "ferry").string();
  if (stats["pack_dir"] == cache) {
    EXPECT_TRUE(fs::is_directory(cache)) << "created";
  }
  EXPECT_NE(r.err.find("pack file: an unnamed file in " + stats["pack_dir"].get<std::string>() + " (" + fs_type + ")"),
            std::string::npos)
      << r.err;
  // XDG_CACHE_HOME comes first.
  const CmdResult x = ferry_with_env(home.string(), (dir / "xdg").string(),
                                     "run -q -m " + shell_quote(dir / "m.toml") +
                                         " --prompt '1 2 3' --ids -n 2 --no-probe --policy um --json");
  ASSERT_EQ(x.exit_code, 0) << x.err;
  const nlohmann::json xs = nlohmann::json::parse(x.out)["stats"];
  if (xs["pack_fs"] != "tmpfs") {
    EXPECT_EQ(xs["pack_dir"], (dir / "xdg" / "ferry").string());
  }
  // A resident run has no pack file, and says so.
  const CmdResult res = run_ferry(run + "--policy resident --json");
  ASSERT_EQ(res.exit_code, 0) << res.err;
  EXPECT_TRUE(nlohmann::json::parse(res.out)["stats"]["pack_dir"].is_null());
}

TEST_F(Flags, AnExplicitPackDirOnATmpfsWarns) {
  if (!fs::is_directory("/dev/shm")) GTEST_SKIP() << "no /dev/shm";
  const CmdResult r = run_ferry("run -m " + shell_quote(dir / "m.toml") +
                                " --prompt '1 2 3' --ids -n 2 --no-probe --policy um --json --pack-dir /dev/shm");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: --pack-dir /dev/shm is a tmpfs"), std::string::npos) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["stats"]["pack_fs"], "tmpfs");
  expect_bad_input(run_ferry(run + "--pack-dir " + shell_quote(dir / "nope")), {"--pack-dir:", "nope"});
}

}  // namespace
