// The bandwidth probe: the CPU measurements give plausible numbers, the JSON form round-trips and
// rejects malformed files, and each policy is bound by the right link.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "base/backend.h"
#include "base/error.h"
#include "memory/probe.h"
#include "tests/support/test_util.h"

namespace ferry {
namespace {

namespace fs = std::filesystem;

ProbeResult sample_probe() {
  ProbeResult p;
  p.device = "cuda";
  p.device_name = "NVIDIA H100 80GB HBM3";
  p.host = "node-7";
  p.commit = "0123456789ab";
  p.when = "2025-01-02T03:04:05Z";
  p.bytes = std::uint64_t{256} << 20;
  p.repeats = 5;
  p.h2d_bps = 25.5e9;
  p.d2h_bps = 26.25e9;
  p.managed_prefetch_bps = 19.125e9;
  p.fault_bps = 3.5e9;
  p.device_bps = 2.875e12;
  return p;
}

void expect_same(const ProbeResult& a, const ProbeResult& b) {
  EXPECT_EQ(a.device, b.device);
  EXPECT_EQ(a.device_name, b.device_name);
  EXPECT_EQ(a.host, b.host);
  EXPECT_EQ(a.commit, b.commit);
  EXPECT_EQ(a.when, b.when);
  EXPECT_EQ(a.bytes, b.bytes);
  EXPECT_EQ(a.repeats, b.repeats);
  EXPECT_EQ(a.h2d_bps, b.h2d_bps);
  EXPECT_EQ(a.d2h_bps, b.d2h_bps);
  EXPECT_EQ(a.managed_prefetch_bps, b.managed_prefetch_bps);
  EXPECT_EQ(a.fault_bps, b.fault_bps);
  EXPECT_EQ(a.device_bps, b.device_bps);
}

TEST(Probe, CpuMeasurementsArePositiveFiniteAndPlausible) {
  const fs::path dir = test::temp_dir("probe");
  auto backend = make_backend(DeviceKind::CPU, 0, 2);
  ProbeOptions opt;
  opt.bytes = std::uint64_t{8} << 20;
  opt.repeats = 3;
  opt.scratch_dir = dir.string();
  const ProbeResult p = run_probe(*backend, opt);
  EXPECT_EQ(p.device, "cpu");
  EXPECT_EQ(p.device_name, backend->name());
  EXPECT_EQ(p.bytes, opt.bytes);
  EXPECT_EQ(p.repeats, 3);
  EXPECT_FALSE(p.when.empty());
  EXPECT_FALSE(p.host.empty());
  const std::pair<const char*, double> figures[] = {{"h2d", p.h2d_bps},
                                                    {"d2h", p.d2h_bps},
                                                    {"managed_prefetch", p.managed_prefetch_bps},
                                                    {"fault", p.fault_bps},
                                                    {"device", p.device_bps}};
  for (const auto& [name, bps] : figures) {
    EXPECT_TRUE(std::isfinite(bps)) << name;
    // RAM and page-cache speeds of any machine that runs the tests: above 100 MB/s, below 1 TB/s.
    EXPECT_GT(bps, 100e6) << name;
    EXPECT_LT(bps, 1e12) << name;
  }
  // The unnamed probe file is gone with its mapping.
  EXPECT_TRUE(fs::is_empty(dir));
  fs::remove_all(dir);
}

TEST(Probe, SizesAreRoundedUpAndBadOptionsAreRejected) {
  auto backend = make_backend(DeviceKind::CPU, 0, 1);
  ProbeOptions opt;
  opt.scratch_dir = fs::temp_directory_path().string();
  opt.repeats = 0;
  EXPECT_THROW(run_probe(*backend, opt), BadInput);
  opt.repeats = 1;
  opt.bytes = 4096;
  EXPECT_THROW(run_probe(*backend, opt), BadInput);
  opt.bytes = (std::uint64_t{1} << 20) + 1;
  const ProbeResult p = run_probe(*backend, opt);
  EXPECT_EQ(p.bytes, (std::uint64_t{1} << 20) + (std::uint64_t{64} << 10));
  EXPECT_GT(p.h2d_bps, 0);
}

TEST(Probe, CpuProbeInAMissingDirectoryIsBadInput) {
  auto backend = make_backend(DeviceKind::CPU, 0, 1);
  ProbeOptions opt;
  opt.bytes = std::uint64_t{1} << 20;
  opt.repeats = 1;
  opt.scratch_dir = "/nonexistent/ferry-probe";
  EXPECT_THROW(run_probe(*backend, opt), BadInput);
}

TEST(Probe, JsonRoundTrip) {
  const ProbeResult p = sample_probe();
  expect_same(probe_from_json(probe_to_json(p), "round trip"), p);

  const fs::path dir = test::temp_dir("probe-json");
  const std::string path = (dir / "probe.json").string();
  save_probe(p, path);
  expect_same(load_probe(path), p);
  fs::remove_all(dir);
}

TEST(Probe, MalformedJsonIsBadInputNamingTheOrigin) {
  const std::string good = probe_to_json(sample_probe());
  auto without = [&](const std::string& key) {
    nlohmann::json j = nlohmann::json::parse(good);
    j.erase(key);
    return j.dump();
  };
  auto with = [&](const std::string& key, const nlohmann::json& v) {
    nlohmann::json j = nlohmann::json::parse(good);
    j[key] = v;
    return j.dump();
  };
  const std::string bad[] = {
      "",
      "{\"device\": \"cpu\",",  // truncated
      "[1, 2, 3]",
      "42",
      without("h2d_bps"),
      without("device_bps"),
      without("device"),
      with("device", "tpu"),
      with("fault_bps", -1.0),
      with("managed_prefetch_bps", "fast"),
      with("d2h_bps", nullptr),
      with("bytes", -5),
      with("bytes", "256MiB"),
      with("repeats", 1.5),
      with("commit", 7),
  };
  for (const std::string& text : bad) {
    try {
      (void)probe_from_json(text, "bad-probe.json");
      ADD_FAILURE() << "accepted: " << text;
    } catch (const BadInput& e) {
      EXPECT_NE(std::string(e.what()).find("bad-probe.json"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(load_probe("/nonexistent/probe.json"), BadInput);
  EXPECT_THROW(save_probe(sample_probe(), "/nonexistent/dir/probe.json"), BadInput);
}

TEST(Probe, OneLinkForEveryPolicy) {
  const ProbeResult p = sample_probe();
  EXPECT_EQ(link_bandwidth(p), p.h2d_bps);
  EXPECT_EQ(memory_bandwidth(p), p.device_bps);
}

}  // namespace
}  // namespace ferry
