// The portable kernels: plain C++ for any CPU (the compiler's baseline vectorisation only).
#include <cstdint>

#include "base/dtype.h"
#include "ops/cpu_isa/attend_impl.h"
#include "ops/cpu_isa/kernels.h"
#include "ops/cpu_isa/vec_math.h"

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

// The vector type of attend_t (ops/cpu_isa/attend_impl.h): four lanes in plain C++, which the
// baseline vectorises (SSE2 on x86-64, NEON on AArch64) and which keeps four partial sums apart.
struct V {
  static constexpr int L = 4;
  struct vec {
    float x[L];
  };
  static vec zero() { return vec{{0.0f, 0.0f, 0.0f, 0.0f}}; }
  static vec set1(float a) { return vec{{a, a, a, a}}; }
  static vec load(const float* p) { return vec{{p[0], p[1], p[2], p[3]}}; }
  static vec load_n(const float* p, int n) {
    vec v = zero();
    for (int i = 0; i < n; ++i) v.x[i] = p[i];
    return v;
  }
  static void store(float* p, vec v) {
    for (int i = 0; i < L; ++i) p[i] = v.x[i];
  }
  static vec fmadd(vec a, vec b, vec c) {
    for (int i = 0; i < L; ++i) c.x[i] += a.x[i] * b.x[i];
    return c;
  }
  static vec add(vec a, vec b) {
    for (int i = 0; i < L; ++i) a.x[i] += b.x[i];
    return a;
  }
  static vec mul(vec a, vec b) {
    for (int i = 0; i < L; ++i) a.x[i] *= b.x[i];
    return a;
  }
  static float hsum(vec v) { return (v.x[0] + v.x[1]) + (v.x[2] + v.x[3]); }
};

void attend(const AttendRows& a) { attend_t<V>(a); }
void gelu_tanh(float* y, std::int64_t n) { gelu_tanh_loop(y, n); }
void silu_mul(const float* g, const float* u, std::int64_t n, float* y) { silu_mul_loop(g, u, n, y); }
float exp_shift(const float* x, float s, std::int64_t n, float* y) { return exp_shifted(x, s, n, y); }

}  // namespace

const Kernels kGenericKernels{"generic", dot_rows, axpy_rows, to_f32, attend, gelu_tanh, silu_mul, exp_shift};

}  // namespace ferry::ops::cpu
