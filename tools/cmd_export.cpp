// `ferry export`: write any model (random presets and GGUF files included) as a Hugging Face directory.
#include <cstdio>
#include <memory>

#include "base/units.h"
#include "models/export.h"
#include "models/weights.h"
#include "tools/cli_common.h"

namespace ferry::cli {
namespace {

struct ExportFlags {
  std::string model = "gpt2";
  std::string out;
  bool quiet = false;
};

void do_export(const ExportFlags& f) {
  const ModelSpec spec = load_model_spec(f.model);
  std::unique_ptr<WeightSource> src = make_weight_source(spec);
  export_hf(spec, *src, f.out, !f.quiet);
  if (!f.quiet)
    std::fprintf(stderr, "ferry: wrote %s (%s weights, %.1fM parameters) to %s\n", spec.name.c_str(),
                 dtype_name(spec.dtype), static_cast<double>(spec.parameter_count()) / 1e6, f.out.c_str());
}

}  // namespace

void register_export(CLI::App& app) {
  auto f = std::make_shared<ExportFlags>();
  CLI::App* sub = app.add_subcommand(
      "export", "Write a model's weights as a Hugging Face directory (config.json of its family: GPT-2, LLaMA or\n"
                "Granite, + model.safetensors in the model's dtype; a GGUF is written dequantized), so other tools\n"
                "load the very same weights. Example: ferry export -m gpt2-medium --out ./dir");
  sub->add_option("-m,--model", f->model, "Preset name, TOML file, Hugging Face directory or GGUF file")->capture_default_str();
  sub->add_option("-o,--out", f->out, "Output directory (created)")->required();
  sub->add_flag("-q,--quiet", f->quiet, "No progress bar");
  sub->callback([f] { do_export(*f); });
}

}  // namespace ferry::cli
