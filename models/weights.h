// Weight sources: where a model's tensors come from when its packs are filled. Names and shapes are
// the family's checkpoint names (models/family.h TensorInfo): Hugging Face's, GPT-2's without the
// "transformer." prefix ("h.0.attn.c_attn.weight", Conv1D weights [in, out]), LLaMA's as written
// ("model.layers.0.self_attn.q_proj.weight", nn.Linear weights [out, in]).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/dtype.h"
#include "base/tensor.h"
#include "models/family.h"
#include "models/model_spec.h"

namespace ferry {

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  // Converts tensor `name` (expected shape `shape`) into dst as `dst_dtype`.
  // Throws BadInput naming the file and tensor when it is missing or has another shape.
  virtual void read(const std::string& name, const Shape& shape, DType dst_dtype, void* dst) = 0;
  virtual std::string describe() const = 0;  // "checkpoint ./dir (2 shards)", "random (seed 7)"
};

// A safetensors file, a directory with model.safetensors or model.safetensors.index.json shards.
std::unique_ptr<WeightSource> open_checkpoint(const std::string& path);
// Random weights by the family's RandomInit (GPT-2: normal(0, 0.02), c_proj scaled by 1/sqrt(2 L),
// zero biases, unit norm gains). Deterministic per (seed, tensor name), rounded to spec.dtype.
std::unique_ptr<WeightSource> random_source(const ModelSpec& spec);
std::unique_ptr<WeightSource> make_weight_source(const ModelSpec& spec);  // by spec.weights

// Every tensor of a GPT-2 model with its Hugging Face shape, in pack order (pack 0 first): the
// GPT-2 family's table (models/gpt2.cpp), kept by name for the tests that build GPT-2 checkpoints.
std::vector<TensorInfo> gpt2_tensors(const ModelSpec& spec);

}  // namespace ferry
