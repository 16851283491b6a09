// Scalar reference for swiglu (tests only), in double.
#include <cmath>
#include <cstdint>

#include "ops/reference.h"
#include "ops/validate.h"

namespace ferry::ops::ref {

void swiglu(TensorView gate_up, TensorView out) {
  check::swiglu(DeviceKind::CPU, gate_up, out);
  const std::int64_t f = out.dim(1);
  for (std::int64_t t = 0; t < out.dim(0); ++t)
    for (std::int64_t i = 0; i < f; ++i) {
      const double g = gate_up.as<float>()[t * 2 * f + i];
      const double u = gate_up.as<float>()[t * 2 * f + f + i];
      out.as<float>()[t * f + i] = static_cast<float>(g / (1.0 + std::exp(-g)) * u);
    }
}

}  // namespace ferry::ops::ref
