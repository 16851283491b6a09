// Shared pieces of the `ferry` subcommands: the engine flags and their parsing.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "runtime/engine.h"

namespace ferry::cli {

// Raw flag values as typed by the user; resolved into an EngineConfig by to_engine_config().
struct EngineFlags {
  std::string device = "cpu";
  int threads = 0;
  std::string policy = "auto";
  std::string budget;
  int depth = 1;
  int streams = 2;
  std::string layout = "nested";
  std::string pack_dir = "/tmp";
  bool quiet = false;
  // CUDA only
  int max_batch_tokens = 4096;
  int max_seqs = 32;
  std::string gpu_mem_limit;
  bool allow_oversubscribe = false;
};

void add_engine_flags(CLI::App& app, EngineFlags& f);
EngineConfig to_engine_config(const EngineFlags& f);
DeviceKind parse_device(const std::string& s);

// Registered subcommands; each returns its exit code.
void register_run(CLI::App& app);
void register_inspect(CLI::App& app);
void register_export(CLI::App& app);
void register_probe(CLI::App& app);
void register_pressure(CLI::App& app);
void register_bench(CLI::App& app);

}  // namespace ferry::cli
