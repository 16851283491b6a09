// Scalar reference for add_rmsnorm (tests only): the add in f32 (it is stored in place), the norm in
// double.
#include <cmath>
#include <cstdint>

#include "ops/reference.h"
#include "ops/validate.h"

namespace ferry::ops::ref {

void add_rmsnorm(TensorView residual, TensorView delta, float delta_scale, TensorView gamma, float eps,
                 TensorView out) {
  check::add_rmsnorm(DeviceKind::CPU, residual, delta, gamma, eps, out);
  const std::int64_t hidden = residual.dim(1);
  for (std::int64_t t = 0; t < residual.dim(0); ++t) {
    float* r = residual.as<float>() + t * hidden;
    if (delta.present())
      for (std::int64_t i = 0; i < hidden; ++i) r[i] = r[i] + delta_scale * delta.as<float>()[t * hidden + i];
    double ms = 0.0;
    for (std::int64_t i = 0; i < hidden; ++i) ms += static_cast<double>(r[i]) * r[i];
    ms /= static_cast<double>(hidden);
    const double inv = 1.0 / std::sqrt(ms + static_cast<double>(eps));
    for (std::int64_t i = 0; i < hidden; ++i)
      out.as<float>()[t * hidden + i] = static_cast<float>(r[i] * inv * gamma.as<float>()[i]);
  }
}

}  // namespace ferry::ops::ref
