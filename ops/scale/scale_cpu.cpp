// CPU scale: x *= factor in place (f32).
#include <cstdint>

#include "ops/cpu.h"
#include "ops/validate.h"

namespace ferry::ops::cpu {

void scale(TensorView x, float factor) {
  check::scale(DeviceKind::CPU, x);
  const std::int64_t n = x.numel();
  auto* v = x.as<float>();
  for (std::int64_t i = 0; i < n; ++i) v[i] *= factor;
}

}  // namespace ferry::ops::cpu
