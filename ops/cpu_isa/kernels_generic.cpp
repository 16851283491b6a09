// The portable kernels: plain C++ for any CPU (the compiler's baseline vectorisation only).
#include <cstdint>

#include "base/dtype.h"
#include "ops/cpu_isa/kernels.h"

namespace ferry::ops::cpu {
namespace {

float load(const void* w, WType t, std::int64_t i) {
  switch (t) {
    case WType::F32:
      return static_cast<const float*>(w)[i];
    case WType::F16:
      return half_to_float(static_cast<const std::uint16_t*>(w)[i]);
    case WType::BF16:
      return bf16_to_float(static_cast<const std::uint16_t*>(w)[i]);
  }
  return 0.0f;
}

void dot_rows(const float* x, const void* w, WType t, std::int64_t k, std::int64_t n0, std::int64_t rows, float* y) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int64_t base = (n0 + r) * k;
    float acc = 0.0f;
    if (t == WType::F32) {
      const float* p = static_cast<const float*>(w) + base;
      for (std::int64_t j = 0; j < k; ++j) acc += x[j] * p[j];
    } else {
      for (std::int64_t j = 0; j < k; ++j) acc += x[j] * load(w, t, base + j);
    }
    y[r] = acc;
  }
}

void axpy_rows(const float* x, const void* w, WType t, std::int64_t k, std::int64_t ld, std::int64_t n0,
               std::int64_t cols, float* y) {
  for (std::int64_t i = 0; i < k; ++i) {
    const float xi = x[i];
    const std::int64_t base = i * ld + n0;
    if (t == WType::F32) {
      const float* p = static_cast<const float*>(w) + base;
      for (std::int64_t j = 0; j < cols; ++j) y[j] += xi * p[j];
    } else {
      for (std::int64_t j = 0; j < cols; ++j) y[j] += xi * load(w, t, base + j);
    }
  }
}

void to_f32(const void* src, WType t, std::int64_t n, float* dst) {
  for (std::int64_t i = 0; i < n; ++i) dst[i] = load(src, t, i);
}

}  // namespace

const Kernels kGenericKernels{"generic", dot_rows, axpy_rows, to_f32};

}  // namespace ferry::ops::cpu
