#include "ops/cpu_isa/rows.h"

#include <algorithm>

#include "ops/cpu_isa/isa.h"
#include "ops/linear/linear_cpu.h"

namespace ferry::ops::cpu {
namespace {

std::int64_t row_len(const TensorView& v) { return v.shape.rank == 0 ? 1 : v.shape[v.shape.rank - 1]; }

const std::byte* row_ptr(const TensorView& v, std::int64_t r) {
  return static_cast<const std::byte*>(v.data) + static_cast<std::size_t>(r * row_len(v)) * dtype_size(v.dtype);
}

}  // namespace

void row_to_f32(const TensorView& v, std::int64_t r, float* dst) {
  cpu_kernels().to_f32(row_ptr(v, r), detail::wtype(v.dtype), row_len(v), dst);
}

void row_add_f32(const TensorView& v, std::int64_t r, float* dst) {
  const std::int64_t n = row_len(v);
  if (v.dtype == DType::F32) {
    const auto* s = reinterpret_cast<const float*>(row_ptr(v, r));
    for (std::int64_t i = 0; i < n; ++i) dst[i] += s[i];
    return;
  }
  constexpr std::int64_t kChunk = 512;
  float tmp[kChunk];
  const Kernels& kern = cpu_kernels();
  const std::size_t es = dtype_size(v.dtype);
  for (std::int64_t c = 0; c < n; c += kChunk) {
    const std::int64_t m = std::min(kChunk, n - c);
    kern.to_f32(row_ptr(v, r) + static_cast<std::size_t>(c) * es, detail::wtype(v.dtype), m, tmp);
    for (std::int64_t i = 0; i < m; ++i) dst[c + i] += tmp[i];
  }
}

const float* vector_f32(const TensorView& v, float* space) {
  if (v.dtype == DType::F32) return static_cast<const float*>(v.data);
  cpu_kernels().to_f32(v.data, detail::wtype(v.dtype), v.numel(), space);
  return space;
}

}  // namespace ferry::ops::cpu
