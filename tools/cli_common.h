// Shared pieces of the `ferry` subcommands: the engine flags and their parsing.
#pragma once
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "runtime/engine.h"

namespace ferry::cli {

// Raw flag values as typed by the user; resolved into an EngineConfig by to_engine_config().
struct EngineFlags {
  std::string device = "cpu";
  int threads = 0;
  std::string weights = "stored";
  std::string policy = "auto";
  std::string budget;
  std::string host_budget;
  int depth = 1;
  int streams = 2;
  std::string layout = "nested";
  std::string pack_dir;  // empty: default_scratch_dir() (a cache directory on disk)
  bool quiet = false;
  // CUDA only
  int max_batch_tokens = 4096;
  int max_seqs = 32;
  std::string gpu_mem_limit;
  bool allow_oversubscribe = false;
};

// The long names ("--top-k", else "-q") of the options of `app` given on the command line, so a
// command can reject a flag that the run it was given to would ignore.
using GivenFlags = std::set<std::string>;
GivenFlags given_flags(const CLI::App& app);

void add_engine_flags(CLI::App& app, EngineFlags& f);
// Validates and resolves the flags (the pack directory included, with a warning on stderr when it
// is in memory). `given`: BadInput for a flag the device ignores (a CUDA flag with --device cpu,
// --threads or --pack-dir with --device cuda).
EngineConfig to_engine_config(const EngineFlags& f, const GivenFlags& given);

// JSON text for stdout (indent -1: one line). Generated or decoded text may end inside a multi-byte
// character: invalid UTF-8 is written as U+FFFD.
std::string dump_json(const nlohmann::json& j, int indent);
DeviceKind parse_device(const std::string& s);
// BadInput unless threads >= 0; `flag` names the option.
void check_threads(int threads, const std::string& flag);

// The directory of scratch files (the pack file, the probe's file): `dir` when the user gave one
// (flag), else a cache directory on disk chosen from $XDG_CACHE_HOME and $HOME (memory/fs_kind.h).
// Prints the warning when the choice lives in RAM, unless quiet.
std::string resolve_scratch_dir(const std::string& dir, const std::string& flag, bool quiet);

// Registered subcommands; each returns its exit code.
void register_run(CLI::App& app);
void register_inspect(CLI::App& app);
void register_export(CLI::App& app);
void register_probe(CLI::App& app);
void register_pressure(CLI::App& app);
void register_bench(CLI::App& app);
void register_embed(CLI::App& app);
void register_fill_mask(CLI::App& app);
void register_classify(CLI::App& app);

}  // namespace ferry::cli
