// CPU elementwise add (f32): x += y, the unfused residual add.
#include <cstdint>

#include "ops/cpu.h"
#include "ops/validate.h"

namespace ferry::ops::cpu {

void add(TensorView x, TensorView y) {
  check::add(DeviceKind::CPU, x, y);
  auto* a = x.as<float>();              // [...]
  const auto* b = y.as<const float>();  // [...] (the shape of x)
  const std::int64_t n = x.numel();
#pragma omp parallel for schedule(static) if (n > 65536)
  for (std::int64_t i = 0; i < n; ++i) a[i] += b[i];
}

}  // namespace ferry::ops::cpu
