#include "tools/cli_common.h"

#include <cstdio>
#include <cstdlib>

#include "base/error.h"
#include "memory/fs_kind.h"

namespace ferry::cli {

namespace {

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

// Flags the other kind of device ignores: given with the other device they are an error, not a no-op.
void check_device_flags(DeviceKind device, const GivenFlags& given) {
  if (device == DeviceKind::CPU) {
    for (const char* flag : {"--max-batch-tokens", "--max-seqs", "--gpu-mem-limit", "--allow-oversubscribe"})
      if (given.count(flag))
        throw BadInput(std::string(flag) + ": a CUDA flag, and this run is --device cpu (add --device cuda)");
  } else {
    for (const char* flag : {"--threads", "--pack-dir"})
      if (given.count(flag))
        throw BadInput(std::string(flag) + ": a flag of the CPU backend, and this run is --device cuda (add --device cpu)");
  }
}

}  // namespace

GivenFlags given_flags(const CLI::App& app) {
  GivenFlags out;
  for (const CLI::Option* o : app.get_options()) {
    const std::string name = o->get_name();
    if (o->count() > 0 && !name.empty() && name.front() == '-') out.insert(name);
  }
  return out;
}

void check_threads(int threads, const std::string& flag) {
  if (threads < 0) throw BadInput(flag + ": must be >= 0 (0 = all cores), got " + std::to_string(threads));
}

std::string resolve_scratch_dir(const std::string& dir, const std::string& flag, bool quiet) {
  // The environment is read here, in the command line layer, and passed down (DESIGN.md).
  const ScratchDir s = dir.empty() ? default_scratch_dir(env_or_empty("XDG_CACHE_HOME"), env_or_empty("HOME"), flag)
                                   : explicit_scratch_dir(dir, flag);
  if (!s.warning.empty() && !quiet) std::fprintf(stderr, "ferry: warning: %s\n", s.warning.c_str());
  return s.dir;
}

DeviceKind parse_device(const std::string& s) {
  if (s == "cpu") return DeviceKind::CPU;
  if (s == "cuda" || s == "gpu") return DeviceKind::CUDA;
  throw BadInput("--device: unknown device '" + s + "' (expected cpu or cuda)");
}

void add_engine_flags(CLI::App& app, EngineFlags& f) {
  app.add_option("--device", f.device, "Compute device: cpu or cuda")->capture_default_str();
  app.add_option("--threads", f.threads,
                 "CPU: threads of the ops: OpenBLAS and the OpenMP regions of every stream (0 = all cores)")
      ->capture_default_str();
  app.add_option("--weights", f.weights,
                 "The type the weights are packed and read in: stored (the checkpoint's own: an F16 or BF16\n"
                 "model stays 16-bit and decode reads half the bytes; quantized GGUF tensors become f32) or\n"
                 "f32 (everything widened at load). The kernels accumulate in f32 either way")
      ->capture_default_str();
  app.add_option("--policy", f.policy,
                 "Weight placement: resident (all weights on the device), um (pages fault in on demand),\n"
                 "um-prefetch (layers prefetched ahead on copy streams, evicted behind), stream (copied\n"
                 "into a ring of device buffers), auto (resident when the model fits, else the planner's pick)")
      ->capture_default_str();
  app.add_option("--budget", f.budget,
                 "Hard bound on device-resident weight bytes: a size (2GiB, 512MiB, 1.5GB) or a\n"
                 "percentage of the model's weight bytes (25%). Default: no bound. CUDA: the reserve for\n"
                 "activations and the KV cache (--max-batch-tokens) comes on top of a percentage and out\n"
                 "of a size; both are capped at the device's free memory (docs/cuda.md)");
  app.add_option("--host-budget", f.host_budget,
                 "Bound on the host tier: streamed layers kept in host RAM between uses (CUDA: pinned\n"
                 "memory; CPU: the page cache of the pack file); the rest are read from disk every step.\n"
                 "A size or a percentage of the model's weight bytes. Default: the available RAM less 2 GiB\n"
                 "(on the CPU also less --budget, since the device is RAM too)");
  app.add_option("--prefetch-depth", f.depth, "Layers prefetched ahead of the one computing (1-16)")
      ->capture_default_str();
  app.add_option("--streams", f.streams,
                 "Streams: 1 compute stream + (N-1) copy streams; 1 = no overlap of copies and compute")
      ->capture_default_str();
  app.add_option("--layout", f.layout, "Activation layout: nested (packed, no padding) or padded (comparison only)")
      ->capture_default_str();
  app.add_option("--pack-dir", f.pack_dir,
                 "Directory for the packed weight file of the CPU mmap tiers (um, um-prefetch, stream) and the\n"
                 "quick probe's file. Default: the first of $XDG_CACHE_HOME/ferry, ~/.cache/ferry, /var/tmp, /tmp\n"
                 "that is writable and not a tmpfs/ramfs (a file there is RAM, not disk); a --pack-dir in\n"
                 "memory is used with a warning. `ferry run` prints where the file went");
  app.add_flag("-q,--quiet", f.quiet, "No progress bar or notes on stderr");
  app.add_option("--max-batch-tokens", f.max_batch_tokens,
                 "CUDA: device memory (KV cache, activations, logits) is reserved for batches with\n"
                 "sequences x (longest prompt + new tokens) up to this; the reserve counts against --budget\n"
                 "(on top of a percentage, inside an absolute size)")
      ->capture_default_str();
  app.add_option("--max-seqs", f.max_seqs, "CUDA: the most sequences in a batch the reserve is made for")
      ->capture_default_str();
  app.add_option("--gpu-mem-limit", f.gpu_mem_limit,
                 "CUDA: treat the device as having only this much memory (e.g. 16GiB): caps the budget\n"
                 "and the managed weights of um / um-prefetch");
  app.add_flag("--allow-oversubscribe", f.allow_oversubscribe,
               "CUDA um / um-prefetch: allow managed weights beyond the device's free memory (can hang\n"
               "some machines; --budget is the safe way to apply pressure)");
}

EngineConfig to_engine_config(const EngineFlags& f, const GivenFlags& given) {
  EngineConfig c;
  c.device = parse_device(f.device);
  check_device_flags(c.device, given);
  check_threads(f.threads, "--threads");
  c.threads = f.threads;
  c.weights = parse_weights_mode(f.weights, "--weights");
  c.policy = parse_policy(f.policy, "--policy");
  if (!f.budget.empty()) c.budget = parse_budget(f.budget, "--budget");
  if (!f.host_budget.empty()) c.host_budget = parse_budget(f.host_budget, "--host-budget", true);
  c.prefetch_depth = f.depth;
  c.streams = f.streams;
  c.layout = parse_layout(f.layout, "--layout");
  // Only the CPU placements and the CPU probe write scratch files; CUDA keeps EngineConfig's default.
  if (c.device == DeviceKind::CPU) c.pack_dir = resolve_scratch_dir(f.pack_dir, "--pack-dir", f.quiet);
  c.progress = !f.quiet;
  c.max_batch_tokens = f.max_batch_tokens;
  c.max_sequences = f.max_seqs;
  if (!f.gpu_mem_limit.empty()) {
    c.gpu_mem_limit = parse_bytes(f.gpu_mem_limit, "--gpu-mem-limit");
    if (c.gpu_mem_limit == 0) throw BadInput("--gpu-mem-limit: must be > 0");
  }
  c.allow_oversubscribe = f.allow_oversubscribe;
  return c;
}

std::string dump_json(const nlohmann::json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace ferry::cli
