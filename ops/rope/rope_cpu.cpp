// CPU rotary position embedding (Su et al., RoFormer 2021), Hugging Face rotate-half convention, in
// place on the q and k heads of each qkv row. Angles are f32(pos) * inv_freq in f32, as PyTorch does.
#include <cmath>
#include <cstdint>
#include <string>

#include "ops/cpu.h"
#include "ops/rope/rope_freq.h"
#include "ops/validate.h"

namespace ferry::ops::cpu {

void rope(TensorView qkv, TensorView pos, const AttentionShape& a, const RopeParams& p) {
  check::rope(DeviceKind::CPU, qkv, pos, a, p);
  const std::int64_t n_tokens = qkv.dim(0);
  const std::int64_t ld = qkv.dim(1);
  const int d = a.head_dim;
  const int r = p.rotary_dim == 0 ? d : p.rotary_dim;
  const int half = r / 2;
  const int heads = a.n_heads + a.n_kv_heads;  // q heads then k heads are contiguous
  const auto* ps = pos.as<const std::int32_t>();
  auto* x = qkv.as<float>();
#pragma omp parallel for schedule(static) if (n_tokens * heads * d > 65536)
  for (std::int64_t t = 0; t < n_tokens; ++t) {
    const float fp = static_cast<float>(ps[t]);
    for (int i = 0; i < half; ++i) {
      const float angle = fp * detail::rope_inv_freq(i, r, p);
      const float c = std::cos(angle);
      const float s = std::sin(angle);
      for (int h = 0; h < heads; ++h) {
        float* row = x + t * ld + static_cast<std::int64_t>(h) * d;
        const float x1 = row[i];
        const float x2 = row[i + half];
        row[i] = x1 * c - x2 * s;
        row[i + half] = x2 * c + x1 * s;
      }
    }
  }
}

}  // namespace ferry::ops::cpu
