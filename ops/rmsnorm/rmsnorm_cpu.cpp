// CPU fused residual add + RMSNorm (Zhang & Sennrich, "Root Mean Square Layer Normalization",
// 2019), f32 as LLaMA computes it: residual += delta_scale * delta; out = residual * rsqrt(mean(r^2)
// + eps) * gamma.
#include <cmath>
#include <cstdint>

#include "ops/cpu.h"
#include "ops/cpu_isa/rows.h"
#include "ops/validate.h"

namespace ferry::ops::cpu {

void add_rmsnorm(TensorView residual, TensorView delta, float delta_scale, TensorView gamma, float eps,
                 TensorView out, Scratch scratch) {
  check::add_rmsnorm(DeviceKind::CPU, residual, delta, gamma, eps, out);
  const std::int64_t n_tokens = residual.dim(0);
  const std::int64_t hidden = residual.dim(1);
  if (hidden == 0) return;
  auto* res = residual.as<float>();
  const auto* dl = delta.present() ? delta.as<const float>() : nullptr;
  const float* g = vector_f32(gamma, scratch.data);  // [H] (16-bit gains widened once)
  auto* o = out.as<float>();
#pragma omp parallel for schedule(static) if (n_tokens * hidden > 16384)
  for (std::int64_t t = 0; t < n_tokens; ++t) {
    float* r = res + t * hidden;
    float* y = o + t * hidden;
    if (dl != nullptr) {
      const float* d = dl + t * hidden;
      for (std::int64_t i = 0; i < hidden; ++i) r[i] += delta_scale * d[i];
    }
    float sq = 0.0f;
    for (std::int64_t i = 0; i < hidden; ++i) sq += r[i] * r[i];
    const float rstd = 1.0f / std::sqrt(sq / static_cast<float>(hidden) + eps);
    for (std::int64_t i = 0; i < hidden; ++i) y[i] = r[i] * rstd * g[i];
  }
}

}  // namespace ferry::ops::cpu
