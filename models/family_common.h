// Helpers the families share (models/gpt2.cpp, models/llama.cpp, models/bert.cpp): carving a Workspace out of one
// buffer, and the parameter count from the tensor table.
#pragma once
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "models/family.h"

namespace ferry {

const ModelFamily& gpt2_family();
const ModelFamily& llama_family();
const ModelFamily& bert_family();

// Takes [rows, width] f32 tensors one after the other, each 256-byte aligned.
class WorkspaceCarver {
 public:
  static constexpr std::size_t kAlign = 256;
  WorkspaceCarver(std::byte* base, int rows, DeviceKind device) : base_(base), p_(base), rows_(rows), device_(device) {}
  TensorView take(std::int64_t width);
  std::size_t used() const { return static_cast<std::size_t>(p_ - base_); }
  // Bytes of tensors of these widths for `rows` rows.
  static std::size_t bytes(int rows, std::initializer_list<std::int64_t> widths);

 private:
  std::byte* base_;
  std::byte* p_;
  int rows_;
  DeviceKind device_;
};

// The workspace of a block with multi-head attention of width H (q, k, v packed as 3H) and one
// FFN hidden of `ffn` (GPT-2 and BERT): residual, delta, normed [rows, H], qkv [rows, 3H],
// attn [rows, H], fc [rows, ffn].
std::size_t mha_workspace_bytes(const ModelSpec& spec, int rows);
Workspace carve_mha_workspace(const ModelSpec& spec, int rows, std::byte* base, DeviceKind device);

// Sum of the element counts of the family's tensors (pack tensors counted once), overflow-checked:
// BadInput naming the model when it does not fit in 64 bits.
std::uint64_t count_parameters(const ModelSpec& spec, const ModelFamily& family);

// config.json for export (models/hf_config_out.cpp).
std::string gpt2_hf_config_json(const ModelSpec& spec);
std::string llama_hf_config_json(const ModelSpec& spec);
std::string bert_hf_config_json(const ModelSpec& spec);

}  // namespace ferry
