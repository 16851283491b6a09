// A non-owning view of a tensor: pointer, element type, shape (row-major, contiguous) and the
// device whose memory the pointer addresses. Ops take views; buffers own memory (memory/).
#pragma once
#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "base/dtype.h"
#include "base/error.h"

namespace ferry {

enum class DeviceKind : std::uint8_t { CPU, CUDA };
const char* device_name(DeviceKind d);

struct Shape {
  static constexpr int kMaxRank = 4;
  std::array<std::int64_t, kMaxRank> dims{};
  int rank = 0;

  Shape() = default;
  Shape(std::initializer_list<std::int64_t> d) {
    FERRY_CHECK(d.size() <= kMaxRank, "Shape: rank > 4");
    for (auto v : d) dims[rank++] = v;
  }
  std::int64_t operator[](int i) const { return dims[i]; }
  std::int64_t numel() const {
    std::int64_t n = 1;
    for (int i = 0; i < rank; ++i) n *= dims[i];
    return n;
  }
  bool operator==(const Shape& o) const {
    if (rank != o.rank) return false;
    for (int i = 0; i < rank; ++i)
      if (dims[i] != o.dims[i]) return false;
    return true;
  }
  std::string str() const;  // "[3, 96]"
};

struct TensorView {
  void* data = nullptr;  // null means "absent" for optional operands
  DType dtype = DType::F32;
  Shape shape;
  DeviceKind device = DeviceKind::CPU;

  TensorView() = default;
  TensorView(void* d, DType t, Shape s, DeviceKind dev = DeviceKind::CPU)
      : data(d), dtype(t), shape(s), device(dev) {}
  TensorView(const void* d, DType t, Shape s, DeviceKind dev = DeviceKind::CPU)
      : data(const_cast<void*>(d)), dtype(t), shape(s), device(dev) {}

  bool present() const { return data != nullptr; }
  std::int64_t numel() const { return shape.numel(); }
  std::int64_t dim(int i) const { return shape[i]; }
  std::size_t bytes() const { return static_cast<std::size_t>(numel()) * dtype_size(dtype); }
  template <class T>
  T* as() const {
    return static_cast<T*>(data);
  }
  // Rows [r0, r0+n) of a tensor whose first dimension indexes rows.
  TensorView rows(std::int64_t r0, std::int64_t n) const {
    TensorView v = *this;
    const std::int64_t row_elems = shape[0] == 0 ? 0 : numel() / shape[0];
    v.data = static_cast<char*>(data) + r0 * row_elems * static_cast<std::int64_t>(dtype_size(dtype));
    v.shape.dims[0] = n;
    return v;
  }
};

}  // namespace ferry
