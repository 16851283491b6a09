// CPU sampling (f32 logits), one token per row. The rule (shared with the reference and the CUDA
// kernel; see ops/sampling/sampling_ref.cpp for the normative statement):
//   greedy: argmax, lowest index on ties.
//   else:   order tokens by logit descending, ties by lower index; keep the first top_k (0 = all);
//           p_i = softmax(logit_i / temperature) over the kept; if top_p < 1 keep the shortest prefix
//           of that order whose probability mass reaches top_p; draw u = sample_uniform(seed, seq,
//           step) and return the first kept token (in that order) whose cumulative mass exceeds u
//           times the kept mass (the last kept token if rounding leaves none).
// Rows run in parallel; each thread sorts in its own scratch, allocated before the parallel region.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#include "ops/cpu.h"
#include "ops/validate.h"

namespace ferry::ops::cpu {
namespace {

std::int32_t argmax_row(const float* z, std::int64_t vocab) {  // z[V]
  std::int64_t best = 0;
  float best_v = -std::numeric_limits<float>::infinity();
  for (std::int64_t i = 0; i < vocab; ++i)
    if (z[i] > best_v) {  // strict: the lowest index wins ties; NaN never wins
      best_v = z[i];
      best = i;
    }
  return static_cast<std::int32_t>(best);
}

// z[V] logits; order[V], prob[V] scratch.
std::int32_t draw_row(const float* z, std::int64_t vocab, const SamplingParams& p, double u, std::int32_t* order,
                      float* prob) {
  // NaN sorts as -inf so the comparison stays a strict weak order.
  auto key = [z](std::int32_t i) { return std::isnan(z[i]) ? -std::numeric_limits<float>::infinity() : z[i]; };
  auto before = [&](std::int32_t a, std::int32_t b) {
    const float ka = key(a);
    const float kb = key(b);
    return ka > kb || (ka == kb && a < b);
  };
  std::iota(order, order + vocab, 0);
  const std::int64_t k = (p.top_k > 0 && p.top_k < vocab) ? p.top_k : vocab;
  if (k < vocab)
    std::partial_sort(order, order + k, order + vocab, before);
  else
    std::sort(order, order + vocab, before);

  const float top = key(order[0]);
  if (!std::isfinite(top)) return order[0];
  const float inv_t = 1.0f / p.temperature;
  double mass = 0.0;
  for (std::int64_t i = 0; i < k; ++i) {
    prob[i] = std::exp((key(order[i]) - top) * inv_t);
    mass += prob[i];
  }
  std::int64_t kept = k;
  if (p.top_p < 1.0f) {
    const double target = static_cast<double>(p.top_p) * mass;
    double cum = 0.0;
    for (std::int64_t i = 0; i < k; ++i) {
      cum += prob[i];
      if (cum >= target) {
        kept = i + 1;
        mass = cum;
        break;
      }
    }
  }
  const double r = u * mass;
  double cum = 0.0;
  for (std::int64_t i = 0; i < kept; ++i) {
    cum += prob[i];
    if (r < cum) return order[i];
  }
  return order[kept - 1];
}

}  // namespace

void sample(TensorView logits, const SamplingParams& p, TensorView seq, TensorView step, TensorView out_ids) {
  check::sample(DeviceKind::CPU, logits, p, seq, step, out_ids);
  const std::int64_t rows = logits.dim(0);
  const std::int64_t vocab = logits.dim(1);
  const auto* z = logits.as<const float>();        // [B, V]
  const auto* sq = seq.as<const std::int32_t>();   // [B]
  const auto* st = step.as<const std::int32_t>();  // [B]
  auto* ids = out_ids.as<std::int32_t>();          // [B]
  if (rows == 0) return;
  if (p.greedy) {
#pragma omp parallel for schedule(static) if (rows * vocab > 65536)
    for (std::int64_t b = 0; b < rows; ++b) ids[b] = argmax_row(z + b * vocab, vocab);
    return;
  }
  // Small batches (a few rows of a small vocabulary) stay on the stream's thread.
  const std::int64_t max_threads = rows * vocab >= 16384 ? omp_get_max_threads() : 1;
  const int n_threads = static_cast<int>(std::min<std::int64_t>(max_threads, rows));
  std::vector<std::int32_t> order(static_cast<std::size_t>(n_threads * vocab));  // [threads, V]
  std::vector<float> prob(static_cast<std::size_t>(n_threads * vocab));          // [threads, V]
#pragma omp parallel num_threads(n_threads)
  {
    const std::int64_t tid = omp_get_thread_num();
#pragma omp for schedule(dynamic)
    for (std::int64_t b = 0; b < rows; ++b) {
      const double u = sample_uniform(p.seed, sq[b], st[b]);
      ids[b] = draw_row(z + b * vocab, vocab, p, u, order.data() + tid * vocab, prob.data() + tid * vocab);
    }
  }
}

}  // namespace ferry::ops::cpu
