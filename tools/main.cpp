// ferry: run transformer models larger than the device's memory.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "base/error.h"
#include "tools/cli_common.h"

int main(int argc, char** argv) {
  CLI::App app{
      "ferry: runs transformer models larger than the device's memory by streaming layer weights\n"
      "under a memory budget. Models: a preset name (gpt2, gpt2-medium, gpt2-large, gpt2-xl,\n"
      "gpt3-6.7b, gpt3-13b), a TOML file (docs/model-format.md) or a Hugging Face GPT-2 directory.\n"
      "Exit codes: 0 ok, 1 internal error, 2 bad input, 3 resource exhausted.",
      "ferry"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "ferry 0.1.0");
  ferry::cli::register_run(app);
  ferry::cli::register_inspect(app);
  ferry::cli::register_export(app);
  ferry::cli::register_probe(app);
  ferry::cli::register_pressure(app);
  ferry::cli::register_bench(app);
  ferry::cli::register_embed(app);
  ferry::cli::register_fill_mask(app);
  ferry::cli::register_classify(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::fprintf(stderr, "ferry: error: %s (see ferry --help)\n", e.what());
    return 2;
  } catch (const ferry::Error& e) {
    std::fprintf(stderr, "ferry: error: %s\n", e.what());
    return e.exit_code();
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "ferry: error: out of host memory\n");
    return 3;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ferry: internal error: %s\n", e.what());
    return 1;
  }
  return 0;
}
