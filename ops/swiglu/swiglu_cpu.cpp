// CPU SwiGLU (Shazeer, "GLU Variants Improve Transformer", 2020): out = silu(gate) * up, f32.
#include <cmath>
#include <cstdint>

#include "ops/cpu.h"
#include "ops/validate.h"

namespace ferry::ops::cpu {

void swiglu(TensorView gate_up, TensorView out) {
  check::swiglu(DeviceKind::CPU, gate_up, out);
  const std::int64_t n_tokens = out.dim(0);
  const std::int64_t f = out.dim(1);
  const auto* in = gate_up.as<const float>();
  auto* o = out.as<float>();
#pragma omp parallel for schedule(static) if (n_tokens * f > 65536)
  for (std::int64_t t = 0; t < n_tokens; ++t) {
    const float* g = in + t * 2 * f;
    const float* u = g + f;
    float* y = o + t * f;
    for (std::int64_t i = 0; i < f; ++i) y[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
  }
}

}  // namespace ferry::ops::cpu
