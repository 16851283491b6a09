// Scalar reference for attention_prefill_unfused (tests only): per sequence and head, the explicit
// score matrix in double, a two-pass softmax per row, then P V. The workspace is not used.
#include <cmath>
#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "ops/reference.h"
#include "ops/validate.h"

namespace ferry::ops::ref {
namespace {

// Row i of sequence b sees keys j < visible(b, i): j <= i when causal, j < key_len[b] when given.
void unfused(TensorView qkv, TensorView offsets, int n_heads, double scale, bool causal, const std::int32_t* key_len,
             TensorView scores, TensorView out) {
  const std::int64_t hidden = qkv.dim(1) / 3;
  const std::int64_t head_dim = hidden / n_heads;
  const float* rows = qkv.as<float>();  // [T, 3H]
  const std::int32_t* off = offsets.as<std::int32_t>();
  FERRY_CHECK(off[0] == 0 && off[offsets.dim(0) - 1] == qkv.dim(0), "ref::attention_prefill_unfused: bad offsets");
  for (std::int64_t b = 0; b + 1 < offsets.dim(0); ++b) {
    const std::int64_t start = off[b];
    const std::int64_t len = off[b + 1] - start;
    FERRY_CHECK(len >= 0 && len <= scores.dim(1), "ref::attention_prefill_unfused: sequence longer than max_len");
    std::vector<double> p(static_cast<std::size_t>(len * len), 0.0);  // [L, L]
    const std::int64_t keys = key_len ? std::min<std::int64_t>(std::max(key_len[b], 0), len) : len;
    auto visible = [&](std::int64_t i) { return causal ? std::min(i + 1, keys) : keys; };
    for (int h = 0; h < n_heads; ++h) {
      const std::int64_t col = h * head_dim;
      for (std::int64_t i = 0; i < len; ++i) {
        double m = -std::numeric_limits<double>::infinity();
        for (std::int64_t j = 0; j < visible(i); ++j) {
          double dot = 0.0;
          for (std::int64_t d = 0; d < head_dim; ++d)
            dot += static_cast<double>(rows[(start + i) * 3 * hidden + col + d]) *
                   static_cast<double>(rows[(start + j) * 3 * hidden + hidden + col + d]);
          p[i * len + j] = dot * scale;
          if (p[i * len + j] > m) m = p[i * len + j];
        }
        double total = 0.0;
        for (std::int64_t j = 0; j < visible(i); ++j) total += p[i * len + j] = std::exp(p[i * len + j] - m);
        for (std::int64_t j = 0; j < visible(i); ++j) p[i * len + j] /= total;
      }
      for (std::int64_t i = 0; i < len; ++i)
        for (std::int64_t d = 0; d < head_dim; ++d) {
          double acc = 0.0;
          for (std::int64_t j = 0; j < visible(i); ++j)
            acc += p[i * len + j] * static_cast<double>(rows[(start + j) * 3 * hidden + 2 * hidden + col + d]);
          out.as<float>()[(start + i) * hidden + col + d] = static_cast<float>(acc);
        }
    }
  }
}

}  // namespace

void attention_prefill_unfused(TensorView qkv, TensorView offsets, int n_heads, TensorView scores, TensorView out) {
  check::attention_prefill_unfused(DeviceKind::CPU, qkv, offsets, n_heads, scores, out);
  const double head_dim = static_cast<double>(qkv.dim(1) / 3 / n_heads);
  unfused(qkv, offsets, n_heads, 1.0 / std::sqrt(head_dim), true, nullptr, scores, out);
}

void attention_prefill_unfused(TensorView qkv, TensorView offsets, TensorView key_len, const AttentionShape& a,
                               TensorView scores, TensorView out) {
  check::attention_prefill_unfused(DeviceKind::CPU, qkv, offsets, key_len, a, scores, out);
  unfused(qkv, offsets, a.n_heads, static_cast<double>(a.scale), a.causal,
          key_len.present() ? key_len.as<std::int32_t>() : nullptr, scores, out);
}

}  // namespace ferry::ops::ref
