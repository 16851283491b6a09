// CPU linear, activation and logits (f32). The matrix product is OpenBLAS cblas_sgemm; the bias is
// fused by pre-filling the output with it and calling sgemm with beta = 1, and the activation is one
// pass over the output afterwards.
#include <cblas.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "ops/cpu.h"
#include "ops/validate.h"

namespace ferry::ops::cpu {
namespace {

// GELU (Hendrycks, Gimpel, "Gaussian Error Linear Units", 2016): exact erf form and its tanh
// approximation (the one GPT-2 uses).
inline float gelu_tanh(float x) {
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * (x + 0.044715f * x * x * x)));
}
inline float gelu_erf(float x) {
  constexpr float kInvSqrt2 = 0.7071067811865476f;
  return 0.5f * x * (1.0f + std::erf(x * kInvSqrt2));
}

void apply_activation(float* x, std::int64_t n, Activation act) {  // x[n]
  switch (act) {
    case Activation::None:
      return;
    case Activation::GeluTanh:
#pragma omp parallel for schedule(static) if (n > 32768)
      for (std::int64_t i = 0; i < n; ++i) x[i] = gelu_tanh(x[i]);
      return;
    case Activation::GeluErf:
#pragma omp parallel for schedule(static) if (n > 32768)
      for (std::int64_t i = 0; i < n; ++i) x[i] = gelu_erf(x[i]);
      return;
  }
  throw InternalError("activation: unknown activation " + std::to_string(static_cast<int>(act)));
}

blasint blas_dim(std::int64_t v, const char* op) {
  if (v > static_cast<std::int64_t>(INT_MAX))
    throw InternalError(std::string(op) + ": dimension " + std::to_string(v) + " exceeds the BLAS int range");
  return static_cast<blasint>(v);
}

// out[T, N] = act(x[T, K] · W + bias[N]), W = w[K, N] (KN) or w[N, K]^T (NK); bias may be absent.
void gemm_bias_act(const char* op, TensorView x, TensorView w, WeightLayout layout, TensorView bias,
                   Activation act, TensorView out) {
  const std::int64_t m = x.dim(0);
  const std::int64_t k = x.dim(1);
  const std::int64_t n = out.dim(1);
  if (m == 0 || n == 0) return;
  auto* y = out.as<float>();  // [T, N]
  float beta = 0.0f;
  if (bias.present()) {
    const auto* b = bias.as<const float>();  // [N]
#pragma omp parallel for schedule(static) if (m * n > 65536)
    for (std::int64_t t = 0; t < m; ++t) std::memcpy(y + t * n, b, static_cast<std::size_t>(n) * sizeof(float));
    beta = 1.0f;
  }
  if (k == 0) {
    if (!bias.present()) std::fill(y, y + m * n, 0.0f);
  } else {
    const bool kn = layout == WeightLayout::KN;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, kn ? CblasNoTrans : CblasTrans, blas_dim(m, op), blas_dim(n, op),
                blas_dim(k, op), 1.0f, x.as<const float>(), blas_dim(k, op), w.as<const float>(),
                blas_dim(kn ? n : k, op), beta, y, blas_dim(n, op));
  }
  apply_activation(y, m * n, act);
}

}  // namespace

void linear(TensorView x, TensorView w, WeightLayout layout, TensorView bias, Activation act, TensorView out) {
  check::linear(DeviceKind::CPU, x, w, layout, bias, out);
  gemm_bias_act("linear", x, w, layout, bias, act, out);
}

void activation(TensorView x, Activation act) {
  check::activation(DeviceKind::CPU, x);
  apply_activation(x.as<float>(), x.numel(), act);
}

void logits(TensorView x, TensorView wte, TensorView out) {
  check::logits(DeviceKind::CPU, x, wte, out);
  gemm_bias_act("logits", x, wte, WeightLayout::NK, TensorView{}, Activation::None, out);
}

}  // namespace ferry::ops::cpu
