// Weight sources: where a model's tensors come from when its packs are filled. Names are the
// Hugging Face GPT-2 names without the "transformer." prefix ("h.0.attn.c_attn.weight", "wte.weight").
// Shapes are Hugging Face's (Conv1D weights are [in, out]).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/dtype.h"
#include "base/tensor.h"
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
// GPT-2 init: normal(0, 0.02) for embeddings and matrices, c_proj weights scaled by 1/sqrt(2 L),
// zero biases, unit LayerNorm gains. Deterministic per (seed, tensor name), rounded to spec.dtype.
std::unique_ptr<WeightSource> random_source(const ModelSpec& spec);
std::unique_ptr<WeightSource> make_weight_source(const ModelSpec& spec);  // by spec.weights

// Every tensor of a GPT-2 model with its Hugging Face shape, in pack order (pack 0 first).
struct TensorInfo {
  std::string name;  // HF name without "transformer."
  Shape shape;
  int pack;          // 0 = static pack, 1..L = block
  std::string local; // name inside its pack ("attn.c_attn.weight", "wte.weight")
};
std::vector<TensorInfo> gpt2_tensors(const ModelSpec& spec);

}  // namespace ferry
