// Scalar references for attention_prefill, kv_append and attention_decode (tests only): the
// textbook two-pass softmax over the whole score row, in double.
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "ops/reference.h"
#include "ops/validate.h"

namespace ferry::ops::ref {
namespace {

// out[D] = sum_j softmax(scores)_j * value(j)[D], where key(j) and value(j) point at row j.
template <class KeyAt, class ValueAt>
void softmax_attend(const float* q, std::int64_t n_keys, int head_dim, double scale, KeyAt key, ValueAt value,
                    float* out) {
  std::vector<double> score(static_cast<std::size_t>(n_keys));
  double max_score = -std::numeric_limits<double>::infinity();
  for (std::int64_t j = 0; j < n_keys; ++j) {
    double dot = 0.0;
    for (int d = 0; d < head_dim; ++d) dot += static_cast<double>(q[d]) * static_cast<double>(key(j)[d]);
    score[j] = dot * scale;
    if (score[j] > max_score) max_score = score[j];
  }
  double total = 0.0;
  for (std::int64_t j = 0; j < n_keys; ++j) {
    score[j] = std::exp(score[j] - max_score);
    total += score[j];
  }
  for (int d = 0; d < head_dim; ++d) {
    double acc = 0.0;
    for (std::int64_t j = 0; j < n_keys; ++j) acc += score[j] / total * static_cast<double>(value(j)[d]);
    out[d] = static_cast<float>(acc);
  }
}

}  // namespace

void attention_prefill(TensorView qkv, TensorView offsets, int n_heads, TensorView out) {
  check::attention_prefill(DeviceKind::CPU, qkv, offsets, n_heads, out);
  const std::int64_t hidden = qkv.dim(1) / 3;
  const int head_dim = static_cast<int>(hidden / n_heads);
  const float* rows = qkv.as<float>();  // [T, 3H]
  const std::int32_t* off = offsets.as<std::int32_t>();
  FERRY_CHECK(off[0] == 0 && off[offsets.dim(0) - 1] == qkv.dim(0), "ref::attention_prefill: bad offsets");
  for (std::int64_t b = 0; b + 1 < offsets.dim(0); ++b) {
    FERRY_CHECK(off[b] <= off[b + 1], "ref::attention_prefill: offsets decrease");
    for (std::int64_t t = off[b]; t < off[b + 1]; ++t) {
      for (int h = 0; h < n_heads; ++h) {
        const std::int64_t col = static_cast<std::int64_t>(h) * head_dim;
        softmax_attend(
            rows + t * 3 * hidden + col, t - off[b] + 1, head_dim, 1.0 / std::sqrt(static_cast<double>(head_dim)),
            [&](std::int64_t j) { return rows + (off[b] + j) * 3 * hidden + hidden + col; },
            [&](std::int64_t j) { return rows + (off[b] + j) * 3 * hidden + 2 * hidden + col; },
            out.as<float>() + t * hidden + col);
      }
    }
  }
}

void kv_append(TensorView qkv, TensorView seq, TensorView pos, TensorView k_cache, TensorView v_cache) {
  check::kv_append(DeviceKind::CPU, qkv, seq, pos, k_cache, v_cache);
  const std::int64_t hidden = qkv.dim(1) / 3;
  for (std::int64_t t = 0; t < qkv.dim(0); ++t) {
    const std::int64_t s = seq.as<std::int32_t>()[t];
    const std::int64_t p = pos.as<std::int32_t>()[t];
    FERRY_CHECK(s >= 0 && s < k_cache.dim(0) && p >= 0 && p < k_cache.dim(1), "ref::kv_append: index out of range");
    for (std::int64_t i = 0; i < hidden; ++i) {
      k_cache.as<float>()[(s * k_cache.dim(1) + p) * hidden + i] = qkv.as<float>()[t * 3 * hidden + hidden + i];
      v_cache.as<float>()[(s * k_cache.dim(1) + p) * hidden + i] = qkv.as<float>()[t * 3 * hidden + 2 * hidden + i];
    }
  }
}

void attention_decode(TensorView qkv, TensorView k_cache, TensorView v_cache, TensorView seq, TensorView len,
                      int n_heads, TensorView out) {
  check::attention_decode(DeviceKind::CPU, qkv, k_cache, v_cache, seq, len, n_heads, out);
  const std::int64_t hidden = qkv.dim(1) / 3;
  const std::int64_t cap = k_cache.dim(1);
  const int head_dim = static_cast<int>(hidden / n_heads);
  for (std::int64_t b = 0; b < qkv.dim(0); ++b) {
    const std::int64_t s = seq.as<std::int32_t>()[b];
    const std::int64_t n = len.as<std::int32_t>()[b];
    FERRY_CHECK(s >= 0 && s < k_cache.dim(0) && n >= 1 && n <= cap, "ref::attention_decode: index out of range");
    for (int h = 0; h < n_heads; ++h) {
      const std::int64_t col = static_cast<std::int64_t>(h) * head_dim;
      softmax_attend(
          qkv.as<float>() + b * 3 * hidden + col, n, head_dim, 1.0 / std::sqrt(static_cast<double>(head_dim)),
          [&](std::int64_t j) { return k_cache.as<float>() + (s * cap + j) * hidden + col; },
          [&](std::int64_t j) { return v_cache.as<float>() + (s * cap + j) * hidden + col; },
          out.as<float>() + b * hidden + col);
    }
  }
}

// GQA references: query head h reads KV head h / (n_heads / n_kv_heads), softmax scale a.scale.
void attention_prefill(TensorView qkv, TensorView offsets, const AttentionShape& a, TensorView out) {
  check::attention_gqa("ref::attention_prefill", qkv, a);
  const std::int64_t w = qkv.dim(1);
  const std::int64_t qw = static_cast<std::int64_t>(a.n_heads) * a.head_dim;
  const std::int64_t kvw = static_cast<std::int64_t>(a.n_kv_heads) * a.head_dim;
  const int group = a.n_heads / a.n_kv_heads;
  FERRY_CHECK(out.dim(0) == qkv.dim(0) && out.dim(1) == qw, "ref::attention_prefill: out must be [T, n_heads*D]");
  const float* rows = qkv.as<float>();
  const std::int32_t* off = offsets.as<std::int32_t>();
  FERRY_CHECK(off[0] == 0 && off[offsets.dim(0) - 1] == qkv.dim(0), "ref::attention_prefill: bad offsets");
  for (std::int64_t b = 0; b + 1 < offsets.dim(0); ++b) {
    FERRY_CHECK(off[b] <= off[b + 1], "ref::attention_prefill: offsets decrease");
    for (std::int64_t t = off[b]; t < off[b + 1]; ++t) {
      for (int h = 0; h < a.n_heads; ++h) {
        const std::int64_t col = static_cast<std::int64_t>(h) * a.head_dim;
        const std::int64_t kcol = static_cast<std::int64_t>(h / group) * a.head_dim;
        softmax_attend(
            rows + t * w + col, a.causal ? t - off[b] + 1 : off[b + 1] - off[b], a.head_dim, static_cast<double>(a.scale),
            [&](std::int64_t j) { return rows + (off[b] + j) * w + qw + kcol; },
            [&](std::int64_t j) { return rows + (off[b] + j) * w + qw + kvw + kcol; }, out.as<float>() + t * qw + col);
      }
    }
  }
}

void kv_append(TensorView qkv, TensorView seq, TensorView pos, TensorView k_cache, TensorView v_cache,
               const AttentionShape& a) {
  check::attention_gqa("ref::kv_append", qkv, a);
  const std::int64_t qw = static_cast<std::int64_t>(a.n_heads) * a.head_dim;
  const std::int64_t kvw = static_cast<std::int64_t>(a.n_kv_heads) * a.head_dim;
  FERRY_CHECK(k_cache.dim(2) == kvw && v_cache.shape == k_cache.shape, "ref::kv_append: caches must be [S, cap, n_kv*D]");
  for (std::int64_t t = 0; t < qkv.dim(0); ++t) {
    const std::int64_t s = seq.as<std::int32_t>()[t];
    const std::int64_t p = pos.as<std::int32_t>()[t];
    FERRY_CHECK(s >= 0 && s < k_cache.dim(0) && p >= 0 && p < k_cache.dim(1), "ref::kv_append: index out of range");
    for (std::int64_t i = 0; i < kvw; ++i) {
      k_cache.as<float>()[(s * k_cache.dim(1) + p) * kvw + i] = qkv.as<float>()[t * qkv.dim(1) + qw + i];
      v_cache.as<float>()[(s * k_cache.dim(1) + p) * kvw + i] = qkv.as<float>()[t * qkv.dim(1) + qw + kvw + i];
    }
  }
}

void attention_decode(TensorView qkv, TensorView k_cache, TensorView v_cache, TensorView seq, TensorView len,
                      const AttentionShape& a, TensorView out) {
  check::attention_gqa("ref::attention_decode", qkv, a);
  const std::int64_t qw = static_cast<std::int64_t>(a.n_heads) * a.head_dim;
  const std::int64_t kvw = static_cast<std::int64_t>(a.n_kv_heads) * a.head_dim;
  const int group = a.n_heads / a.n_kv_heads;
  const std::int64_t cap = k_cache.dim(1);
  FERRY_CHECK(k_cache.dim(2) == kvw && out.dim(1) == qw, "ref::attention_decode: bad cache or out shape");
  for (std::int64_t b = 0; b < qkv.dim(0); ++b) {
    const std::int64_t s = seq.as<std::int32_t>()[b];
    const std::int64_t n = len.as<std::int32_t>()[b];
    FERRY_CHECK(s >= 0 && s < k_cache.dim(0) && n >= 1 && n <= cap, "ref::attention_decode: index out of range");
    for (int h = 0; h < a.n_heads; ++h) {
      const std::int64_t col = static_cast<std::int64_t>(h) * a.head_dim;
      const std::int64_t kcol = static_cast<std::int64_t>(h / group) * a.head_dim;
      softmax_attend(
          qkv.as<float>() + b * qkv.dim(1) + col, n, a.head_dim, static_cast<double>(a.scale),
          [&](std::int64_t j) { return k_cache.as<float>() + (s * cap + j) * kvw + kcol; },
          [&](std::int64_t j) { return v_cache.as<float>() + (s * cap + j) * kvw + kcol; },
          out.as<float>() + b * qw + col);
    }
  }
}

}  // namespace ferry::ops::ref
