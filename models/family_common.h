// Helpers the families share (models/gpt2.cpp, models/llama.cpp): carving a Workspace out of one
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

// Sum of the element counts of the family's tensors (pack tensors counted once), overflow-checked:
// BadInput naming the model when it does not fit in 64 bits.
std::uint64_t count_parameters(const ModelSpec& spec, const ModelFamily& family);

// config.json for export (models/hf_config_out.cpp).
std::string gpt2_hf_config_json(const ModelSpec& spec);
std::string llama_hf_config_json(const ModelSpec& spec);
std::string bert_hf_config_json(const ModelSpec& spec);

}  // namespace ferry
