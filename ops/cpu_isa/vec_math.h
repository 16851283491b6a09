// The transcendental loops of the CPU kernels (exp, GELU, SiLU), written as plain loops with no
// calls and no branches so that each ISA file's compiler flags vectorise them to its width.
//
// Include this only from an ops/cpu_isa/kernels_<isa>.cpp file: everything is in an anonymous
// namespace, so every ISA file compiles its own copy, which the linker never merges with another's
// (kernels.h says why that matters). glibc's expf and tanhf are scalar calls the compiler cannot
// vectorise; SLEEF would be the library for this, but three short loops do not justify a
// dependency, so the range reduction below is written here.
#pragma once
#include <cstdint>
#include <cstring>

namespace ferry::ops::cpu {
namespace {

inline float bits_to_float(std::int32_t i) {
  float f;
  std::memcpy(&f, &i, sizeof f);
  return f;
}

// exp(x) for x <= 0, 0 below -87 (where expf leaves the normal range); relative error about 2 ulp.
// The reduction x = n ln2 + f, |f| <= ln2/2, and the degree-5 polynomial for (e^f - 1 - f) / f^2
// are Cephes' expf (S. L. Moshier, Cephes Math Library, expf.c); 2^n is built in the exponent bits.
inline float exp_nonpos(float x) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f;
  constexpr float kLn2Lo = -2.12194440e-4f;
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float xc = x < -87.0f ? -87.0f : x;
  const float n = (xc * kLog2e + kRound) - kRound;
  const float f = (xc - n * kLn2Hi) - n * kLn2Lo;
  float p = 1.9875691500e-4f;
  p = p * f + 1.3981999507e-3f;
  p = p * f + 8.3334519073e-3f;
  p = p * f + 4.1665795894e-2f;
  p = p * f + 1.6666665459e-1f;
  p = p * f + 5.0000001201e-1f;
  const float e = (p * f * f + f) + 1.0f;
  const float r = e * bits_to_float((static_cast<std::int32_t>(n) + 127) << 23);
  return x < -87.0f ? 0.0f : r;
}

// y[i] = exp(x[i] - shift) for x[i] <= shift; returns their sum (a second loop: a float sum in
// the first would keep it from vectorising).
inline float exp_shifted(const float* x, float shift, std::int64_t n, float* y) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = exp_nonpos(x[i] - shift);
  float sum = 0.0f;
  for (std::int64_t i = 0; i < n; ++i) sum += y[i];
  return sum;
}

// GELU, tanh form (Hendrycks & Gimpel, 2016): 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3).
// With e = exp(-2|u|) <= 1 (no overflow for any x), 1 + tanh(u) is 2 / (1 + e) for u >= 0 and
// 2e / (1 + e) for u < 0, without the cancellation of 1 + tanh(u) near -1.
inline void gelu_tanh_loop(float* y, std::int64_t n) {
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  for (std::int64_t i = 0; i < n; ++i) {
    const float x = y[i];
    const float u = kSqrt2OverPi * (x + 0.044715f * x * x * x);
    const float e = exp_nonpos(u < 0.0f ? 2.0f * u : -2.0f * u);
    y[i] = (u < 0.0f ? x * e : x) / (1.0f + e);
  }
}

// y[i] = silu(g[i]) * u[i], silu(g) = g / (1 + exp(-g)) = g e / (1 + e) for g < 0, e = exp(-|g|).
inline void silu_mul_loop(const float* g, const float* u, std::int64_t n, float* y) {
  for (std::int64_t i = 0; i < n; ++i) {
    const float x = g[i];
    const float e = exp_nonpos(x < 0.0f ? x : -x);
    const float s = (x < 0.0f ? x * e : x) / (1.0f + e);
    y[i] = s * u[i];
  }
}

}  // namespace
}  // namespace ferry::ops::cpu
