// A LayerPack is one contiguous, 2 MiB aligned region holding every weight of one layer, so moving
// a layer between tiers is one call. PackLayout says where each tensor sits inside the region.
// Pack 0 of a model holds the weights outside the blocks (embeddings, final norm, LM head);
// packs 1..L hold block 0..L-1.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/dtype.h"
#include "base/tensor.h"

namespace ferry {

struct PackedTensor {
  std::string name;        // canonical name inside the layer, e.g. "attn.c_attn.weight"
  DType dtype = DType::F32;
  Shape shape;
  std::size_t offset = 0;  // bytes from the start of the pack (256-byte aligned)
  std::size_t bytes = 0;
};

class PackLayout {
 public:
  // Appends a tensor at the next 256-byte aligned offset.
  void add(std::string name, DType dtype, Shape shape);
  const PackedTensor& find(std::string_view name) const;  // InternalError if absent
  const std::vector<PackedTensor>& tensors() const { return tensors_; }
  std::size_t used_bytes() const { return used_; }
  std::size_t bytes() const;  // used bytes rounded up to kPackAlign: the region's size
  // A view of tensor `name` inside a pack whose region starts at `base`.
  TensorView view(const std::byte* base, std::string_view name, DeviceKind device) const;

 private:
  std::vector<PackedTensor> tensors_;
  std::size_t used_ = 0;
};

}  // namespace ferry
