// Export of a model (any WeightSource: random, checkpoint or GGUF) as a Hugging Face directory:
// config.json (the family's: GPT2Config, LlamaConfig or GraniteConfig keys) + model.safetensors in
// spec.dtype, under the family's checkpoint names (GPT-2's without the "transformer." prefix, as on
// the Hugging Face hub's gpt2; LLaMA's "model.layers.N...." as transformers writes them).
#pragma once
#include <string>

#include "models/model_spec.h"
#include "models/weights.h"

namespace ferry {

// The config.json text for `spec` (ModelFamily::hf_config_json).
std::string hf_config_json(const ModelSpec& spec);

// Creates out_dir (and parents) and writes config.json and model.safetensors, streaming tensor by
// tensor (one tensor in memory at a time). progress: a bar on stderr. Throws BadInput when the
// directory or files cannot be written, ResourceExhausted when the disk is full.
void export_hf(const ModelSpec& spec, WeightSource& source, const std::string& out_dir, bool progress);

}  // namespace ferry
