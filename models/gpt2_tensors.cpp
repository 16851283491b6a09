// The tensor table of GPT-2 (the family of models/gpt2.cpp; Hugging Face names and shapes, Conv1D
// weights [in, out], which are packed transposed, [out, in]: the NK layout of ops::linear, whose
// CPU kernels are the faster ones, docs/cpu-kernels.md).
#include "models/weights.h"

namespace ferry {

std::vector<TensorInfo> gpt2_tensors(const ModelSpec& spec) {
  const std::int64_t V = spec.vocab_size, C = spec.context_length, H = spec.hidden_size, F = spec.ffn_size;
  std::vector<TensorInfo> t;
  auto add = [&](std::string name, Shape shape, int pack, std::string local) {
    t.push_back(TensorInfo{std::move(name), shape, pack, std::move(local), Shape{}, 0});
  };
  add("wte.weight", {V, H}, 0, "wte.weight");
  add("wpe.weight", {C, H}, 0, "wpe.weight");
  add("ln_f.weight", {H}, 0, "ln_f.weight");
  add("ln_f.bias", {H}, 0, "ln_f.bias");
  if (!spec.tied_embeddings) add("lm_head.weight", {V, H}, 0, "lm_head.weight");
  const struct {
    const char* local;
    Shape shape;
  } block[] = {
      {"ln_1.weight", {H}},         {"ln_1.bias", {H}},
      {"attn.c_attn.weight", {H, 3 * H}}, {"attn.c_attn.bias", {3 * H}},
      {"attn.c_proj.weight", {H, H}},     {"attn.c_proj.bias", {H}},
      {"ln_2.weight", {H}},         {"ln_2.bias", {H}},
      {"mlp.c_fc.weight", {H, F}},  {"mlp.c_fc.bias", {F}},
      {"mlp.c_proj.weight", {F, H}}, {"mlp.c_proj.bias", {H}},
  };
  for (int b = 0; b < spec.num_layers; ++b)
    for (const auto& x : block) {
      add("h." + std::to_string(b) + "." + x.local, x.shape, b + 1, x.local);
      if (x.shape.rank == 2) {  // a Conv1D weight [in, out], packed [out, in]
        t.back().transpose = true;
        t.back().pack_shape = Shape{x.shape[1], x.shape[0]};
      }
    }
  return t;
}

}  // namespace ferry
