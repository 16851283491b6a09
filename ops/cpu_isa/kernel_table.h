// FERRY_KERNEL_TABLE(NAME, ISA): defines `const Kernels NAME` for an ISA file
// (ops/cpu_isa/kernels_<isa>.cpp) from that file's templates dot_rows_t<T> (through
// dot_rows_in_parts below), axpy_rows_t<T> and
// to_f32_t<T>, its vector type V for attend_t<V> (ops/cpu_isa/attend_impl.h) and the loops of
// ops/cpu_isa/vec_math.h (ops/cpu_isa/kernels.h has their contracts). A macro, not a shared template: each
// ISA file must instantiate its own code, which the linker may never merge with another file's.
#pragma once
#include "ops/cpu_isa/attend_impl.h"
#include "ops/cpu_isa/kernels.h"
#include "ops/cpu_isa/vec_math.h"

namespace ferry::ops::cpu {
namespace {

// The NK matrix-vector product reads kDotParts streams per thread: the band of rows [n0, n0 + rows)
// is cut into that many parts, read side by side, one row of each at a time. On the Xeon
// (Sapphire Rapids class) VM that bench/results/cpu/kernels records, 8 parts read f32 at 0.99-1.0
// of the probe's bound and f16 at 0.83-0.86, where one stream (row after row) read 0.81 and 0.76;
// 2, 4 and 16 parts and 4 adjacent rows fell between.
constexpr int kDotParts = 8;

// dot_n(idx, out): N dot products with rows idx[0..N); dot1(r): one. The rows left over by the N
// equal parts go one by one.
template <int N, class DotN, class Dot1>
void dot_rows_in_parts(std::int64_t n0, std::int64_t rows, float* y, DotN dot_n, Dot1 dot1) {
  const std::int64_t q = rows / N;
  for (std::int64_t r = 0; r < q; ++r) {
    std::int64_t idx[N];
    for (int i = 0; i < N; ++i) idx[i] = n0 + i * q + r;
    float out[N];
    dot_n(idx, out);
    for (int i = 0; i < N; ++i) y[i * q + r] = out[i];
  }
  for (std::int64_t r = N * q; r < rows; ++r) y[r] = dot1(n0 + r);
}

}  // namespace
}  // namespace ferry::ops::cpu

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
  float exp_shift(const float* x, float s, std::int64_t n, float* y) { return exp_shifted(x, s, n, y); }  \
  }                                                                                                        \
  const Kernels NAME{ISA, dot_rows, axpy_rows, to_f32, attend, gelu_tanh, silu_mul, exp_shift};
