// Scalar reference for rope (tests only): the f32 inverse frequencies and f32 angle of transformers
// (ops/rope/rope_freq.h), cos/sin and the rotation in double.
#include <cmath>
#include <cstdint>

#include "ops/reference.h"
#include "ops/rope/rope_freq.h"
#include "ops/validate.h"

namespace ferry::ops::ref {

void rope(TensorView qkv, TensorView pos, const AttentionShape& a, const RopeParams& p) {
  check::rope(DeviceKind::CPU, qkv, pos, a, p);
  const int d = a.head_dim;
  const int r = p.rotary_dim == 0 ? d : p.rotary_dim;
  for (std::int64_t t = 0; t < qkv.dim(0); ++t) {
    for (int h = 0; h < a.n_heads + a.n_kv_heads; ++h) {
      float* row = qkv.as<float>() + t * qkv.dim(1) + static_cast<std::int64_t>(h) * d;
      for (int i = 0; i < r / 2; ++i) {
        const float angle = static_cast<float>(pos.as<std::int32_t>()[t]) * detail::rope_inv_freq(i, r, p);
        const double c = std::cos(static_cast<double>(angle));
        const double s = std::sin(static_cast<double>(angle));
        const double x1 = row[i];
        const double x2 = row[i + r / 2];
        row[i] = static_cast<float>(x1 * c - x2 * s);
        row[i + r / 2] = static_cast<float>(x2 * c + x1 * s);
      }
    }
  }
}

}  // namespace ferry::ops::ref
