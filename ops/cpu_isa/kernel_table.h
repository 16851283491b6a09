// FERRY_KERNEL_TABLE(NAME, ISA): defines `const Kernels NAME` for an ISA file
// (ops/cpu_isa/kernels_<isa>.cpp) from that file's templates dot_rows_t<T>, axpy_rows_t<T> and
// to_f32_t<T>, its vector type V for attend_t<V> (ops/cpu_isa/attend_impl.h) and the loops of
// ops/cpu_isa/vec_math.h (ops/cpu_isa/kernels.h has their contracts). A macro, not a shared template: each
// ISA file must instantiate its own code, which the linker may never merge with another file's.
#pragma once
#include "ops/cpu_isa/attend_impl.h"
#include "ops/cpu_isa/kernels.h"
#include "ops/cpu_isa/vec_math.h"

#define FERRY_KERNEL_TABLE(NAME, ISA)                                                                      \
  namespace {                                                                                              \
  void dot_rows(const float* x, const void* w, WType t, std::int64_t k, std::int64_t n0, std::int64_t rows, \
                float* y) {                                                                                \
    if (t == WType::F32) return dot_rows_t<WType::F32>(x, w, k, n0, rows, y);                             \
    if (t == WType::F16) return dot_rows_t<WType::F16>(x, w, k, n0, rows, y);                             \
    return dot_rows_t<WType::BF16>(x, w, k, n0, rows, y);                                                  \
  }                                                                                                        \
  void axpy_rows(const float* x, const void* w, WType t, std::int64_t k, std::int64_t ld, std::int64_t n0,  \
                 std::int64_t cols, float* y) {                                                            \
    if (t == WType::F32) return axpy_rows_t<WType::F32>(x, w, k, ld, n0, cols, y);                        \
    if (t == WType::F16) return axpy_rows_t<WType::F16>(x, w, k, ld, n0, cols, y);                        \
    return axpy_rows_t<WType::BF16>(x, w, k, ld, n0, cols, y);                                             \
  }                                                                                                        \
  void to_f32(const void* src, WType t, std::int64_t n, float* dst) {                                      \
    if (t == WType::F32) return to_f32_t<WType::F32>(src, n, dst);                                        \
    if (t == WType::F16) return to_f32_t<WType::F16>(src, n, dst);                                        \
    return to_f32_t<WType::BF16>(src, n, dst);                                                             \
  }                                                                                                        \
  void attend(const AttendRows& a) { attend_t<V>(a); }                                                     \
  void gelu_tanh(float* y, std::int64_t n) { gelu_tanh_loop(y, n); }                                       \
  void silu_mul(const float* g, const float* u, std::int64_t n, float* y) { silu_mul_loop(g, u, n, y); }   \
  }                                                                                                        \
  const Kernels NAME{ISA, dot_rows, axpy_rows, to_f32, attend, gelu_tanh, silu_mul};
