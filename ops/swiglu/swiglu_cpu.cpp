// CPU SwiGLU (Shazeer, "GLU Variants Improve Transformer", 2020): out = silu(gate) * up, f32,
// through the ISA kernel (ops/cpu_isa/vec_math.h), which the fused decode path uses too.
#include <cstdint>

#include "ops/cpu.h"
#include "ops/cpu_isa/isa.h"
#include "ops/validate.h"

namespace ferry::ops::cpu {

void swiglu(TensorView gate_up, TensorView out) {
  check::swiglu(DeviceKind::CPU, gate_up, out);
  const std::int64_t n_tokens = out.dim(0);
  const std::int64_t f = out.dim(1);
  const Kernels& kern = cpu_kernels();
  const auto* in = gate_up.as<const float>();
  auto* o = out.as<float>();
#pragma omp parallel for schedule(static) if (n_tokens * f > 65536)
  for (std::int64_t t = 0; t < n_tokens; ++t) {
    const float* g = in + t * 2 * f;
    kern.silu_mul(g, g + f, f, o + t * f);
  }
}

}  // namespace ferry::ops::cpu
