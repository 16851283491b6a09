// AVX-512 (F + BW + VL) kernels; this file alone is compiled with those instructions enabled and
// runs only where ops/cpu_isa/isa.cpp found them. 16 f32 lanes; f16 widens with VCVTPH2PS, bf16
// with a zero-extend and a 16-bit shift (bf16 is the upper half of an f32); tails use masks.
// Only <immintrin.h> and kernels.h (through kernel_table.h) are included: see kernels.h on why.
#include <immintrin.h>

#include <cstdint>

#include "ops/cpu_isa/kernel_table.h"

namespace ferry::ops::cpu {
namespace {

template <WType T>
__m512 load16(const void* w, std::int64_t i) {
  if constexpr (T == WType::F32) {
    return _mm512_loadu_ps(static_cast<const float*>(w) + i);
  } else {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const std::uint16_t*>(w) + i));
    if constexpr (T == WType::F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
}

template <WType T>
__m512 load16_masked(const void* w, std::int64_t i, __mmask16 m) {
  if constexpr (T == WType::F32) {
    return _mm512_maskz_loadu_ps(m, static_cast<const float*>(w) + i);
  } else {
    const __m256i h = _mm256_maskz_loadu_epi16(m, static_cast<const std::uint16_t*>(w) + i);
    if constexpr (T == WType::F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
}

__mmask16 tail_mask(std::int64_t n) { return static_cast<__mmask16>((1u << n) - 1u); }

template <WType T>
const char* row_ptr(const void* w, std::int64_t elem) {
  constexpr std::int64_t size = T == WType::F32 ? 4 : 2;
  return static_cast<const char*>(w) + elem * size;
}

template <WType T>
float dot1(const float* x, const void* w, std::int64_t k, std::int64_t row) {
  const char* p = row_ptr<T>(w, row * k);
  __m512 a = _mm512_setzero_ps(), b = _mm512_setzero_ps();
  std::int64_t j = 0;
  for (; j + 32 <= k; j += 32) {
    a = _mm512_fmadd_ps(load16<T>(p, j), _mm512_loadu_ps(x + j), a);
    b = _mm512_fmadd_ps(load16<T>(p, j + 16), _mm512_loadu_ps(x + j + 16), b);
  }
  for (; j + 16 <= k; j += 16) a = _mm512_fmadd_ps(load16<T>(p, j), _mm512_loadu_ps(x + j), a);
  if (j < k) {
    const __mmask16 m = tail_mask(k - j);
    a = _mm512_fmadd_ps(load16_masked<T>(p, j, m), _mm512_maskz_loadu_ps(m, x + j), a);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(a, b));
}

// N dot products at once, rows r[0..N) of w: N weight streams, x loaded once for all of them.
template <WType T, int N>
void dot_n(const float* x, const void* w, std::int64_t k, const std::int64_t* r, float* y) {
  const char* p[N];
  __m512 a[N];
  for (int i = 0; i < N; ++i) {
    p[i] = row_ptr<T>(w, r[i] * k);
    a[i] = _mm512_setzero_ps();
  }
  std::int64_t j = 0;
  for (; j + 16 <= k; j += 16) {
    const __m512 xv = _mm512_loadu_ps(x + j);
    for (int i = 0; i < N; ++i) a[i] = _mm512_fmadd_ps(load16<T>(p[i], j), xv, a[i]);
  }
  if (j < k) {
    const __mmask16 m = tail_mask(k - j);
    const __m512 xv = _mm512_maskz_loadu_ps(m, x + j);
    for (int i = 0; i < N; ++i) a[i] = _mm512_fmadd_ps(load16_masked<T>(p[i], j, m), xv, a[i]);
  }
  for (int i = 0; i < N; ++i) y[i] = _mm512_reduce_add_ps(a[i]);
}

template <WType T>
void dot_rows_t(const float* x, const void* w, std::int64_t k, std::int64_t n0, std::int64_t rows, float* y) {
  dot_rows_in_parts<kDotParts>(
      n0, rows, y, [&](const std::int64_t* idx, float* out) { dot_n<T, kDotParts>(x, w, k, idx, out); },
      [&](std::int64_t r) { return dot1<T>(x, w, k, r); });
}

// y[j] += x[i] w[i, n0 + j], four rows of w per pass over y (four weight streams; y is read and
// written once per four rows).
template <WType T>
void axpy_rows_t(const float* x, const void* w, std::int64_t k, std::int64_t ld, std::int64_t n0, std::int64_t cols,
                 float* y) {
  std::int64_t i = 0;
  for (; i + 4 <= k; i += 4) {
    const char* p0 = row_ptr<T>(w, i * ld + n0);
    const char* p1 = row_ptr<T>(w, (i + 1) * ld + n0);
    const char* p2 = row_ptr<T>(w, (i + 2) * ld + n0);
    const char* p3 = row_ptr<T>(w, (i + 3) * ld + n0);
    const __m512 x0 = _mm512_set1_ps(x[i]), x1 = _mm512_set1_ps(x[i + 1]);
    const __m512 x2 = _mm512_set1_ps(x[i + 2]), x3 = _mm512_set1_ps(x[i + 3]);
    std::int64_t j = 0;
    for (; j + 16 <= cols; j += 16) {
      __m512 acc = _mm512_loadu_ps(y + j);
      acc = _mm512_fmadd_ps(load16<T>(p0, j), x0, acc);
      acc = _mm512_fmadd_ps(load16<T>(p1, j), x1, acc);
      acc = _mm512_fmadd_ps(load16<T>(p2, j), x2, acc);
      acc = _mm512_fmadd_ps(load16<T>(p3, j), x3, acc);
      _mm512_storeu_ps(y + j, acc);
    }
    if (j < cols) {
      const __mmask16 m = tail_mask(cols - j);
      __m512 acc = _mm512_maskz_loadu_ps(m, y + j);
      acc = _mm512_fmadd_ps(load16_masked<T>(p0, j, m), x0, acc);
      acc = _mm512_fmadd_ps(load16_masked<T>(p1, j, m), x1, acc);
      acc = _mm512_fmadd_ps(load16_masked<T>(p2, j, m), x2, acc);
      acc = _mm512_fmadd_ps(load16_masked<T>(p3, j, m), x3, acc);
      _mm512_mask_storeu_ps(y + j, m, acc);
    }
  }
  for (; i < k; ++i) {
    const char* p = row_ptr<T>(w, i * ld + n0);
    const __m512 xv = _mm512_set1_ps(x[i]);
    std::int64_t j = 0;
    for (; j + 16 <= cols; j += 16) _mm512_storeu_ps(y + j, _mm512_fmadd_ps(load16<T>(p, j), xv, _mm512_loadu_ps(y + j)));
    if (j < cols) {
      const __mmask16 m = tail_mask(cols - j);
      _mm512_mask_storeu_ps(y + j, m, _mm512_fmadd_ps(load16_masked<T>(p, j, m), xv, _mm512_maskz_loadu_ps(m, y + j)));
    }
  }
}

template <WType T>
void to_f32_t(const void* src, std::int64_t n, float* dst) {
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, load16<T>(src, i));
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(dst + i, m, load16_masked<T>(src, i, m));
  }
}

// The vector type of attend_t (ops/cpu_isa/attend_impl.h).
struct V {
  using vec = __m512;
  static constexpr int L = 16;
  static vec zero() { return _mm512_setzero_ps(); }
  static vec set1(float x) { return _mm512_set1_ps(x); }
  static vec load(const float* p) { return _mm512_loadu_ps(p); }
  static vec load_n(const float* p, int n) { return _mm512_maskz_loadu_ps(tail_mask(n), p); }
  static void store(float* p, vec v) { _mm512_storeu_ps(p, v); }
  static vec fmadd(vec a, vec b, vec c) { return _mm512_fmadd_ps(a, b, c); }
  static vec add(vec a, vec b) { return _mm512_add_ps(a, b); }
  static vec mul(vec a, vec b) { return _mm512_mul_ps(a, b); }
  static float hsum(vec v) { return _mm512_reduce_add_ps(v); }
};

}  // namespace

FERRY_KERNEL_TABLE(kAvx512Kernels, "avx512")

}  // namespace ferry::ops::cpu
