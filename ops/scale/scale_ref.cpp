// Scalar reference for scale (tests only).
#include <cstdint>

#include "ops/reference.h"
#include "ops/validate.h"

namespace ferry::ops::ref {

void scale(TensorView x, float factor) {
  check::scale(DeviceKind::CPU, x);
  for (std::int64_t i = 0; i < x.numel(); ++i) x.as<float>()[i] = x.as<float>()[i] * factor;
}

}  // namespace ferry::ops::ref
