// Export of a model (any WeightSource: random or checkpoint) as a Hugging Face GPT-2 directory:
// config.json + model.safetensors in spec.dtype, tensor names without the "transformer." prefix
// (as on the Hugging Face hub's gpt2).
#pragma once
#include <string>

#include "models/model_spec.h"
#include "models/weights.h"

namespace ferry {

// The config.json text for `spec` (model_type "gpt2", GPT2LMHeadModel).
std::string hf_config_json(const ModelSpec& spec);

// Creates out_dir (and parents) and writes config.json and model.safetensors, streaming tensor by
// tensor (one tensor in memory at a time). progress: a bar on stderr. Throws BadInput when the
// directory or files cannot be written, ResourceExhausted when the disk is full.
void export_hf(const ModelSpec& spec, WeightSource& source, const std::string& out_dir, bool progress);

}  // namespace ferry
