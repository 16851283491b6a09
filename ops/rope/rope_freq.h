// RoPE inverse frequencies as transformers computes them, in f32 (shared by the CPU kernel and the
// reference so both see the same rounding; the reference then evaluates cos/sin in double):
//   inv_freq_i = 1 / theta^(f32(2i) / f32(R)), then linear (/ factor) or llama3 scaling
//   (_compute_llama3_parameters: wavelen = 2 pi / inv_freq, low/high frequency wavelengths
//   original_context / low_freq_factor and / high_freq_factor, smooth interpolation between).
#pragma once
#include <cmath>

#include "ops/ops.h"

namespace ferry::ops::detail {

inline float rope_inv_freq(int i, int rotary_dim, const RopeParams& p) {
  const float expo = static_cast<float>(2 * i) / static_cast<float>(rotary_dim);
  float inv = 1.0f / std::pow(p.theta, expo);
  if (p.scaling == 1) {
    inv = inv / p.factor;
  } else if (p.scaling == 2) {
    const float ctx = static_cast<float>(p.original_context);
    const float low_wavelen = ctx / p.low_freq_factor;
    const float high_wavelen = ctx / p.high_freq_factor;
    const float wavelen = 2.0f * static_cast<float>(M_PI) / inv;
    if (wavelen > low_wavelen) {
      inv = inv / p.factor;
    } else if (wavelen >= high_wavelen) {
      const float smooth = (ctx / wavelen - p.low_freq_factor) / (p.high_freq_factor - p.low_freq_factor);
      inv = (1.0f - smooth) * inv / p.factor + smooth * inv;
    }
  }
  return inv;
}

}  // namespace ferry::ops::detail
