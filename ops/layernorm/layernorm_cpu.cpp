// CPU fused residual add + LayerNorm (Ba, Kiros, Hinton, "Layer Normalization", 2016), f32.
// Two passes over each row (mean, then centred variance) for accuracy; biased variance.
#include <cmath>
#include <cstdint>

#include "ops/cpu.h"
#include "ops/cpu_isa/rows.h"
#include "ops/validate.h"

namespace ferry::ops::cpu {

void add_layernorm(TensorView residual, TensorView delta, TensorView gamma, TensorView beta, float eps,
                   TensorView out, Scratch scratch) {
  check::add_layernorm(DeviceKind::CPU, residual, delta, gamma, beta, eps, out);
  const std::int64_t n_tokens = residual.dim(0);
  const std::int64_t hidden = residual.dim(1);
  if (hidden == 0) return;
  auto* res = residual.as<float>();                                          // [T, H]
  const auto* dl = delta.present() ? delta.as<const float>() : nullptr;     // [T, H] or absent
  const float* g = vector_f32(gamma, scratch.data);                          // [H] (16-bit: widened once)
  const float* b = vector_f32(beta, scratch.data + hidden);                  // [H]
  auto* o = out.as<float>();                                                 // [T, H]
#pragma omp parallel for schedule(static) if (n_tokens * hidden > 16384)
  for (std::int64_t t = 0; t < n_tokens; ++t) {
    float* r = res + t * hidden;
    float* y = o + t * hidden;
    float sum = 0.0f;
    if (dl != nullptr) {
      const float* d = dl + t * hidden;
      for (std::int64_t i = 0; i < hidden; ++i) {
        r[i] += d[i];
        sum += r[i];
      }
    } else {
      for (std::int64_t i = 0; i < hidden; ++i) sum += r[i];
    }
    const float mean = sum / static_cast<float>(hidden);
    float var = 0.0f;
    for (std::int64_t i = 0; i < hidden; ++i) {
      const float c = r[i] - mean;
      var += c * c;
    }
    const float rstd = 1.0f / std::sqrt(var / static_cast<float>(hidden) + eps);
    for (std::int64_t i = 0; i < hidden; ++i) y[i] = (r[i] - mean) * rstd * g[i] + b[i];
  }
}

}  // namespace ferry::ops::cpu
