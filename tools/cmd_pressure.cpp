// `ferry pressure`: the memory-pressure grid (runtime/pressure.h), its results files and, when
// python3 with matplotlib is available, the plots (tools/plot_results.py).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <sstream>

#include "base/error.h"
#include "runtime/bench/measure.h"
#include "runtime/bench/table.h"
#include "runtime/pressure.h"
#include "tools/cli_common.h"

#ifndef FERRY_SOURCE_DIR
#define FERRY_SOURCE_DIR ""
#endif

namespace ferry::cli {
namespace {

namespace fs = std::filesystem;

struct PressureFlags {
  std::string model = "gpt2";
  std::vector<std::string> budgets{"100%", "75%", "50%", "35%", "25%", "15%"};
  std::vector<std::string> policies{"um", "um-prefetch", "stream", "auto"};
  std::vector<int> depths{1};
  std::vector<int> streams{2};
  std::vector<int> batches{1};
  int prompt_len = 32;
  int gen = 16;
  int repeats = 3;
  int warmup = 1;
  std::string out;
  bool reuse_checkpoint = false;
  bool gpu_page_faults = false;
  std::string probe;
  bool no_probe = false;
  bool no_plots = false;
  EngineFlags engine;
  GivenFlags given;  // the flags on the command line
};

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// /usr/bin/python3 first (the system one, where matplotlib is usually installed), then python3 on PATH.
std::vector<std::string> python_candidates() {
  std::vector<std::string> out;
  if (access("/usr/bin/python3", X_OK) == 0) out.push_back("/usr/bin/python3");
  if (const char* path = std::getenv("PATH")) {
    std::stringstream ss(path);
    std::string dir;
    while (std::getline(ss, dir, ':')) {
      if (dir.empty()) continue;
      const std::string p = (fs::path(dir) / "python3").string();
      if (p != "/usr/bin/python3" && access(p.c_str(), X_OK) == 0) {
        out.push_back(p);
        break;
      }
    }
  }
  return out;
}

// tools/plot_results.py next to the sources ferry was built from, else next to the binary's
// install prefix (PREFIX/share/ferry/plot_results.py).
std::string plot_script() {
  const fs::path src = fs::path(FERRY_SOURCE_DIR) / "tools" / "plot_results.py";
  if (!std::string(FERRY_SOURCE_DIR).empty() && fs::exists(src)) return src.string();
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path installed = exe.parent_path().parent_path() / "share" / "ferry" / "plot_results.py";
    if (fs::exists(installed)) return installed.string();
  }
  return "";
}

// Runs the plot script on results.json; returns a line for the user.
std::string make_plots(const std::string& json_path, const std::string& out_dir) {
  const std::string script = plot_script();
  if (script.empty()) return "plots skipped: tools/plot_results.py not found";
  for (const std::string& py : python_candidates()) {
    const std::string probe = shell_quote(py) + " -c 'import matplotlib' >/dev/null 2>&1";
    if (std::system(probe.c_str()) != 0) continue;
    const std::string cmd = shell_quote(py) + " " + shell_quote(script) + " " + shell_quote(json_path) + " --out " +
                            shell_quote(out_dir) + " >/dev/null";
    if (std::system(cmd.c_str()) != 0) return "plots failed: " + cmd;
    return "plots written to " + out_dir + " (" + py + " " + script + ")";
  }
  return "plots skipped: no python3 with matplotlib (looked at /usr/bin/python3 and python3 on PATH); run "
         "tools/plot_results.py " + json_path + " where matplotlib is installed";
}

void pressure(const PressureFlags& f) {
  if (!f.probe.empty() && f.no_probe) throw BadInput("--probe and --no-probe: give one, not both");
  PressureOptions opt;
  opt.model = f.model;
  opt.budgets = f.budgets;
  opt.policies = f.policies;
  opt.depths = f.depths;
  opt.streams = f.streams;
  opt.batches = f.batches;
  opt.prompt_len = f.prompt_len;
  opt.gen = f.gen;
  opt.repeats = f.repeats;
  opt.warmup = f.warmup;
  opt.out_dir = f.out;
  opt.reuse_checkpoint = f.reuse_checkpoint;
  opt.gpu_page_faults = f.gpu_page_faults;
  opt.progress = !f.engine.quiet;
  opt.engine = to_engine_config(f.engine, f.given);
  if (!f.no_probe)
    opt.engine.probe = bench::acquire_probe(f.probe, opt.engine.device, opt.engine.device_index, opt.engine.threads,
                                            opt.engine.pack_dir);
  const PressureResult r = run_pressure(opt);
  if (!f.engine.quiet)
    for (const std::string& n : r.notes) std::fprintf(stderr, "ferry: note: %s\n", n.c_str());

  const std::vector<std::string> shown = {"policy", "budget", "prefetch_depth", "streams", "batch",
                                          "decode_tokens_per_s", "step_ms", "bound_fraction", "limited_by",
                                          "peak_resident_bytes", "error"};
  std::printf("%s", bench::format_table(shown, r.doc["points"]).c_str());
  std::printf("%d points (%d errors, %d skipped as duplicates) -> %s, %s\n", r.points, r.errors, r.skipped,
              r.csv_path.c_str(), r.json_path.c_str());
  if (f.no_plots) return;
  const std::string plots = make_plots(r.json_path, f.out);
  if (plots.rfind("plots written", 0) == 0) std::printf("%s\n", plots.c_str());
  else std::fprintf(stderr, "ferry: note: %s\n", plots.c_str());
}

}  // namespace

void register_pressure(CLI::App& app) {
  auto f = std::make_shared<PressureFlags>();
  CLI::App* sub = app.add_subcommand(
      "pressure",
      "Memory-pressure experiments: runs a grid of budgets x policies x prefetch depths x streams x batch\n"
      "sizes, each point a fresh engine with warm-up and repeated runs, and writes DIR/results.csv and\n"
      "DIR/results.json (every knob, the machine, the commit; columns: docs/pressure.md) and the plots.\n"
      "Example: ferry pressure -m gpt2-xl --budgets 100%,50%,25% --policies um,um-prefetch,stream,auto\n"
      "         --prefetch-depths 1,2 --out results/xl --reuse-checkpoint");
  sub->add_option("-m,--model", f->model, "Preset name, TOML file or Hugging Face directory")->capture_default_str();
  sub->add_option("-o,--out", f->out, "Output directory (created)")->required();
  add_engine_flags(*sub, f->engine);
  // The grid replaces the single-valued engine knobs.
  for (const char* name : {"--policy", "--budget", "--prefetch-depth", "--streams"})
    sub->remove_option(sub->get_option(name));
  sub->add_option("--budgets", f->budgets, "Budgets, comma-separated: sizes or percentages of the weight bytes")
      ->delimiter(',')
      ->capture_default_str();
  sub->add_option("--policies", f->policies, "Policies, comma-separated: um, um-prefetch, stream, auto, resident")
      ->delimiter(',')
      ->capture_default_str();
  sub->add_option("--prefetch-depths", f->depths, "Prefetch depths, comma-separated (1-16)")
      ->delimiter(',')
      ->capture_default_str();
  sub->add_option("--streams", f->streams, "Stream counts, comma-separated (1 compute + n-1 copy streams)")
      ->delimiter(',')
      ->capture_default_str();
  sub->add_option("--batch", f->batches, "Batch sizes (sequences), comma-separated")->delimiter(',')->capture_default_str();
  sub->add_option("--prompt-len", f->prompt_len, "Tokens per synthetic prompt")->capture_default_str();
  sub->add_option("--gen", f->gen, "Tokens generated per sequence (gen - 1 decode steps are timed)")->capture_default_str();
  sub->add_option("--repeats", f->repeats, "Measured runs per point (median, min and max are reported)")
      ->capture_default_str();
  sub->add_option("--warmup", f->warmup, "Unmeasured runs per point before the measured ones")->capture_default_str();
  sub->add_flag("--reuse-checkpoint", f->reuse_checkpoint,
                "Export the model once to DIR/checkpoint and load every point from it (fast loads of\n"
                "random presets)");
  sub->add_option("--probe", f->probe,
                  "Bandwidths saved by `ferry probe` to report every point against (default: a quick probe now)");
  sub->add_flag("--no-probe", f->no_probe, "Measure no bandwidths: the bound columns stay empty");
  sub->add_flag("--no-plots", f->no_plots, "Do not run tools/plot_results.py");
  sub->add_flag("--gpu-page-faults", f->gpu_page_faults,
                "CUDA: count the GPU's page faults on managed memory and the driver's migrations with\n"
                "CUPTI (columns gpu_page_faults, um_bytes_h2d, um_bytes_d2h); adds overhead to um points");
  sub->callback([f, sub] {
    f->given = given_flags(*sub);
    pressure(*f);
  });
}

}  // namespace ferry::cli
