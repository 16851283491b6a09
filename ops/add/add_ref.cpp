// Scalar reference for add (tests only). The sum of two floats is exact in double, so rounding it
// to float gives the correctly rounded f32 sum.
#include <cstdint>

#include "ops/reference.h"
#include "ops/validate.h"

namespace ferry::ops::ref {

void add(TensorView x, TensorView y) {
  check::add(DeviceKind::CPU, x, y);
  for (std::int64_t i = 0; i < x.numel(); ++i)
    x.as<float>()[i] = static_cast<float>(static_cast<double>(x.as<float>()[i]) + static_cast<double>(y.as<float>()[i]));
}

}  // namespace ferry::ops::ref
