// AVX2 + FMA + F16C kernels; this file alone is compiled with those instructions enabled and runs
// only where ops/cpu_isa/isa.cpp found them. 8 f32 lanes; f16 widens with VCVTPH2PS, bf16 with a
// zero-extend and a 16-bit shift; tails go through a zero-padded 8-lane buffer.
// Only <immintrin.h> and kernels.h (through kernel_table.h) are included: see kernels.h on why.
#include <immintrin.h>

#include <cstdint>

#include "ops/cpu_isa/kernel_table.h"

namespace ferry::ops::cpu {
namespace {

template <WType T>
float scalar(const void* w, std::int64_t i) {
  if constexpr (T == WType::F32) {
    return static_cast<const float*>(w)[i];
  } else if constexpr (T == WType::F16) {
    return _cvtsh_ss(static_cast<const std::uint16_t*>(w)[i]);
  } else {
    const std::uint32_t bits = static_cast<std::uint32_t>(static_cast<const std::uint16_t*>(w)[i]) << 16;
    float f;
    __builtin_memcpy(&f, &bits, sizeof f);
    return f;
  }
}

template <WType T>
__m256 load8(const void* w, std::int64_t i) {
  if constexpr (T == WType::F32) {
    return _mm256_loadu_ps(static_cast<const float*>(w) + i);
  } else {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const std::uint16_t*>(w) + i));
    if constexpr (T == WType::F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
}

// Lanes [0, n) of w[i...], the rest zero (n < 8).
template <WType T>
__m256 load8_tail(const void* w, std::int64_t i, std::int64_t n) {
  alignas(32) float tmp[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (std::int64_t j = 0; j < n; ++j) tmp[j] = scalar<T>(w, i + j);
  return _mm256_load_ps(tmp);
}

float hsum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}

template <WType T>
const char* row_ptr(const void* w, std::int64_t elem) {
  constexpr std::int64_t size = T == WType::F32 ? 4 : 2;
  return static_cast<const char*>(w) + elem * size;
}

template <WType T>
float dot1(const float* x, const void* w, std::int64_t k, std::int64_t row) {
  const char* p = row_ptr<T>(w, row * k);
  __m256 a = _mm256_setzero_ps(), b = _mm256_setzero_ps();
  std::int64_t j = 0;
  for (; j + 16 <= k; j += 16) {
    a = _mm256_fmadd_ps(load8<T>(p, j), _mm256_loadu_ps(x + j), a);
    b = _mm256_fmadd_ps(load8<T>(p, j + 8), _mm256_loadu_ps(x + j + 8), b);
  }
  for (; j + 8 <= k; j += 8) a = _mm256_fmadd_ps(load8<T>(p, j), _mm256_loadu_ps(x + j), a);
  if (j < k) a = _mm256_fmadd_ps(load8_tail<T>(p, j, k - j), load8_tail<WType::F32>(x, j, k - j), a);
  return hsum(_mm256_add_ps(a, b));
}

// N dot products at once, rows r[0..N) of w: N weight streams, x loaded once for all of them.
template <WType T, int N>
void dot_n(const float* x, const void* w, std::int64_t k, const std::int64_t* r, float* y) {
  const char* p[N];
  __m256 a[N];
  for (int i = 0; i < N; ++i) {
    p[i] = row_ptr<T>(w, r[i] * k);
    a[i] = _mm256_setzero_ps();
  }
  std::int64_t j = 0;
  for (; j + 8 <= k; j += 8) {
    const __m256 xv = _mm256_loadu_ps(x + j);
    for (int i = 0; i < N; ++i) a[i] = _mm256_fmadd_ps(load8<T>(p[i], j), xv, a[i]);
  }
  if (j < k) {
    const __m256 xv = load8_tail<WType::F32>(x, j, k - j);
    for (int i = 0; i < N; ++i) a[i] = _mm256_fmadd_ps(load8_tail<T>(p[i], j, k - j), xv, a[i]);
  }
  for (int i = 0; i < N; ++i) y[i] = hsum(a[i]);
}

template <WType T>
void dot_rows_t(const float* x, const void* w, std::int64_t k, std::int64_t n0, std::int64_t rows, float* y) {
  dot_rows_in_parts<kDotParts>(
      n0, rows, y, [&](const std::int64_t* idx, float* out) { dot_n<T, kDotParts>(x, w, k, idx, out); },
      [&](std::int64_t r) { return dot1<T>(x, w, k, r); });
}

template <WType T>
void axpy_rows_t(const float* x, const void* w, std::int64_t k, std::int64_t ld, std::int64_t n0, std::int64_t cols,
                 float* y) {
  const std::int64_t full = cols - cols % 8;
  std::int64_t i = 0;
  for (; i + 4 <= k; i += 4) {
    const char* p0 = row_ptr<T>(w, i * ld + n0);
    const char* p1 = row_ptr<T>(w, (i + 1) * ld + n0);
    const char* p2 = row_ptr<T>(w, (i + 2) * ld + n0);
    const char* p3 = row_ptr<T>(w, (i + 3) * ld + n0);
    const __m256 x0 = _mm256_set1_ps(x[i]), x1 = _mm256_set1_ps(x[i + 1]);
    const __m256 x2 = _mm256_set1_ps(x[i + 2]), x3 = _mm256_set1_ps(x[i + 3]);
    for (std::int64_t j = 0; j < full; j += 8) {
      __m256 acc = _mm256_loadu_ps(y + j);
      acc = _mm256_fmadd_ps(load8<T>(p0, j), x0, acc);
      acc = _mm256_fmadd_ps(load8<T>(p1, j), x1, acc);
      acc = _mm256_fmadd_ps(load8<T>(p2, j), x2, acc);
      acc = _mm256_fmadd_ps(load8<T>(p3, j), x3, acc);
      _mm256_storeu_ps(y + j, acc);
    }
    for (std::int64_t j = full; j < cols; ++j)
      y[j] += x[i] * scalar<T>(p0, j) + x[i + 1] * scalar<T>(p1, j) + x[i + 2] * scalar<T>(p2, j) +
              x[i + 3] * scalar<T>(p3, j);
  }
  for (; i < k; ++i) {
    const char* p = row_ptr<T>(w, i * ld + n0);
    const __m256 xv = _mm256_set1_ps(x[i]);
    for (std::int64_t j = 0; j < full; j += 8)
      _mm256_storeu_ps(y + j, _mm256_fmadd_ps(load8<T>(p, j), xv, _mm256_loadu_ps(y + j)));
    for (std::int64_t j = full; j < cols; ++j) y[j] += x[i] * scalar<T>(p, j);
  }
}

template <WType T>
void to_f32_t(const void* src, std::int64_t n, float* dst) {
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load8<T>(src, i));
  for (; i < n; ++i) dst[i] = scalar<T>(src, i);
}

// The vector type of attend_t (ops/cpu_isa/attend_impl.h).
struct V {
  using vec = __m256;
  static constexpr int L = 8;
  static vec zero() { return _mm256_setzero_ps(); }
  static vec set1(float x) { return _mm256_set1_ps(x); }
  static vec load(const float* p) { return _mm256_loadu_ps(p); }
  static vec load_n(const float* p, int n) {
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_maskload_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lanes));
  }
  static void store(float* p, vec v) { _mm256_storeu_ps(p, v); }
  static vec fmadd(vec a, vec b, vec c) { return _mm256_fmadd_ps(a, b, c); }
  static vec add(vec a, vec b) { return _mm256_add_ps(a, b); }
  static vec mul(vec a, vec b) { return _mm256_mul_ps(a, b); }
  static float hsum(vec v) { return ferry::ops::cpu::hsum(v); }
};

}  // namespace

FERRY_KERNEL_TABLE(kAvx2Kernels, "avx2")

}  // namespace ferry::ops::cpu
