// `ferry probe`: measures the bandwidths that bound out-of-core inference on this machine, prints
// them and saves them as JSON for `ferry run --probe` (DESIGN.md, "The limit we measure against").
#include <cstdio>
#include <memory>
#include <string>

#include "base/error.h"
#include "base/units.h"
#include "memory/fs_kind.h"
#include "memory/probe.h"
#include "runtime/flops_probe.h"
#include "runtime/report.h"
#include "tools/cli_common.h"

namespace ferry::cli {
namespace {

struct ProbeFlags {
  std::string device = "cpu";
  int threads = 0;
  std::string bytes = "256MiB";
  int repeats = 5;
  std::string out;
  std::string scratch_dir;  // empty: the default scratch directory on disk (resolve_scratch_dir)
  bool json = false;
  GivenFlags given;  // the flags on the command line
};

struct Row {
  const char* name;
  double bps;
  const char* policy;
  const char* cpu_what;
  const char* cuda_what;
};

void print_table(const ProbeResult& p, std::FILE* out) {
  const bool cuda = p.device == "cuda";
  std::fprintf(out, "probe      %s: %s on %s, %s x %d repeats (median), commit %s, %s\n", p.device.c_str(),
               p.device_name.c_str(), p.host.c_str(), format_bytes(p.bytes).c_str(), p.repeats, p.commit.c_str(),
               p.when.c_str());
  const Row rows[] = {
      {"h2d", p.h2d_bps, "link", "RAM -> RAM memcpy on a copy stream", "pinned host -> device cudaMemcpyAsync"},
      {"d2h", p.d2h_bps, "-", "RAM -> RAM memcpy, the other way", "device -> pinned host cudaMemcpyAsync"},
      {"disk", p.disk_read_bps, "disk", "pread of a file dropped from the page cache", "the same, into host memory"},
      {"prefetch", p.managed_prefetch_bps, "-", "madvise(WILLNEED) + touch of a dropped file (um-prefetch)",
       "cudaMemPrefetchAsync of managed memory to the device (um-prefetch)"},
      {"fault", p.fault_bps, "-", "page faults reading a dropped file (um)", "a kernel faulting managed pages in (um)"},
      {"memory", p.device_bps, "memory", "streaming read of RAM by the compute threads",
       "device copy kernel (bytes read + written)"},
  };
  std::fprintf(out, "%-10s %12s  %-8s %s\n", "measure", "bandwidth", "bounds", "how");
  for (const Row& r : rows) {
    char bw[32];
    if (r.bps > 0) std::snprintf(bw, sizeof bw, "%.2f GB/s", r.bps / 1e9);
    else std::snprintf(bw, sizeof bw, "n/a");
    std::fprintf(out, "%-10s %12s  %-8s %s\n", r.name, bw, r.policy, cuda ? r.cuda_what : r.cpu_what);
  }
  std::fprintf(out, "%-10s %7.1f GFLOP/s  %-8s %s\n", "gemm", p.flops_per_s / 1e9, "compute",
               cuda ? "cuBLASLt GEMM 8192^3, f16 weights" : "OpenBLAS sgemm 2048^3");
  std::fprintf(out, "noise      %.1f%%: the largest (max - min) / median of any figure's repeats\n", 100 * p.noise);
  std::fprintf(out, "The bound of every run (every policy): max(FLOPs / gemm, streamed bytes / h2d and disk bytes / disk,\n"
                    "bytes read / memory). prefetch and fault are the mechanisms of um-prefetch and um, for comparison.\n");
}

void run(const ProbeFlags& f) {
  const DeviceKind device = parse_device(f.device);
  ProbeOptions opt;
  opt.bytes = parse_bytes(f.bytes, "--bytes");
  opt.repeats = f.repeats;
  check_threads(f.threads, "--threads");
  if (device == DeviceKind::CPU) {
    opt.scratch_dir = resolve_scratch_dir(f.scratch_dir, "--scratch-dir", false);
  } else {
    // The CUDA probe copies between pinned host and device memory: no CPU threads, no file.
    for (const char* flag : {"--threads", "--scratch-dir"})
      if (f.given.count(flag))
        throw BadInput(std::string(flag) + ": a flag of the CPU probe, and this is --device cuda (add --device cpu)");
  }
  const std::string out = f.out.empty() ? "ferry-probe-" + std::string(device_name(device)) + ".json" : f.out;
  std::unique_ptr<Backend> backend = make_backend(device, 0, f.threads);
  ProbeResult p = probe_machine(*backend, opt);
  p.commit = git_commit();
  save_probe(p, out);
  if (f.json) {
    std::printf("%s\n", probe_to_json(p).c_str());
  } else {
    print_table(p, stdout);
    if (device == DeviceKind::CPU)  // where the mmap measurements' file was: disk, not a tmpfs
      std::printf("scratch    %s (%s)\n", opt.scratch_dir.c_str(),
                  filesystem_of(opt.scratch_dir, "--scratch-dir").type.c_str());
    std::printf("wrote      %s\n", out.c_str());
  }
}

}  // namespace

void register_probe(CLI::App& app) {
  auto f = std::make_shared<ProbeFlags>();
  CLI::App* sub = app.add_subcommand(
      "probe",
      "Measure the bandwidths a run is bounded by (host->device link per policy, device memory) and save\n"
      "them as JSON for `ferry run --probe FILE`. Each figure is the median of --repeats measurements.\n"
      "Example: ferry probe --device cuda --bytes 1GiB --repeats 7 --out h100.json");
  sub->add_option("--device", f->device, "Device to measure: cpu or cuda")->capture_default_str();
  sub->add_option("--threads", f->threads, "CPU threads reading memory (0 = all cores)")->capture_default_str();
  sub->add_option("--bytes", f->bytes, "Bytes per measurement (on CUDA at most a quarter of the free device memory)")
      ->capture_default_str();
  sub->add_option("--repeats", f->repeats, "Measurements per figure; the median is reported")->capture_default_str();
  sub->add_option("--out", f->out, "JSON file to write (default: ferry-probe-<device>.json in the current directory)");
  sub->add_option("--scratch-dir", f->scratch_dir,
                  "CPU: directory for the temporary file of the mmap measurements. Default: the first of\n"
                  "$XDG_CACHE_HOME/ferry, ~/.cache/ferry, /var/tmp, /tmp that is writable and not a tmpfs/ramfs\n"
                  "(a file there is RAM, and the fault/prefetch figures would not be disk's); a directory in\n"
                  "memory is used with a warning");
  sub->add_flag("--json", f->json, "Print the JSON instead of the table");
  sub->callback([f, sub] {
    f->given = given_flags(*sub);
    run(*f);
  });
}

}  // namespace ferry::cli
