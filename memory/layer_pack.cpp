// PackLayout: where each tensor of one layer sits inside its contiguous pack.
#include "memory/layer_pack.h"

#include <utility>

#include "base/error.h"
#include "memory/buffer.h"

namespace ferry {

namespace {
constexpr std::size_t kTensorAlign = 256;  // every tensor starts on a 256-byte boundary
}

void PackLayout::add(std::string name, DType dtype, Shape shape) {
  for (const auto& t : tensors_)
    FERRY_CHECK(t.name != name, "PackLayout::add: tensor '" + name + "' added twice");
  FERRY_CHECK(shape.numel() >= 0, "PackLayout::add: negative shape for '" + name + "'");
  PackedTensor t;
  t.name = std::move(name);
  t.dtype = dtype;
  t.shape = shape;
  t.offset = align_up(used_, kTensorAlign);
  t.bytes = static_cast<std::size_t>(shape.numel()) * dtype_size(dtype);
  used_ = t.offset + t.bytes;
  tensors_.push_back(std::move(t));
}

const PackedTensor& PackLayout::find(std::string_view name) const {
  for (const auto& t : tensors_)
    if (t.name == name) return t;
  throw InternalError("PackLayout: no tensor '" + std::string(name) + "' in this pack");
}

std::size_t PackLayout::bytes() const { return align_up(used_, kPackAlign); }

TensorView PackLayout::view(const std::byte* base, std::string_view name, DeviceKind device) const {
  const PackedTensor& t = find(name);
  return TensorView(static_cast<const void*>(base + t.offset), t.dtype, t.shape, device);
}

}  // namespace ferry
