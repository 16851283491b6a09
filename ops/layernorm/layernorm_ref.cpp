// Scalar reference for add_layernorm (tests only): double accumulation, textbook formula.
#include <cmath>
#include <cstdint>

#include "ops/reference.h"
#include "ops/validate.h"

namespace ferry::ops::ref {

void add_layernorm(TensorView residual, TensorView delta, TensorView gamma, TensorView beta, float eps,
                   TensorView out) {
  check::add_layernorm(DeviceKind::CPU, residual, delta, gamma, beta, eps, out);
  const std::int64_t hidden = residual.dim(1);
  for (std::int64_t t = 0; t < residual.dim(0); ++t) {
    float* r = residual.as<float>() + t * hidden;
    if (delta.present())
      for (std::int64_t i = 0; i < hidden; ++i) r[i] = r[i] + delta.as<float>()[t * hidden + i];
    double mean = 0.0;
    for (std::int64_t i = 0; i < hidden; ++i) mean += r[i];
    mean /= static_cast<double>(hidden);
    double var = 0.0;
    for (std::int64_t i = 0; i < hidden; ++i) var += (r[i] - mean) * (r[i] - mean);
    var /= static_cast<double>(hidden);
    for (std::int64_t i = 0; i < hidden; ++i) {
      const double y = (r[i] - mean) / std::sqrt(var + static_cast<double>(eps)) * gamma.as<float>()[i] +
                       beta.as<float>()[i];
      out.as<float>()[t * hidden + i] = static_cast<float>(y);
    }
  }
}

}  // namespace ferry::ops::ref
