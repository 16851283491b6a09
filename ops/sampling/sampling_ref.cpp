// Scalar reference for sample() (tests only). This is the normative statement of the sampling rule
// that every backend implements:
//
//   greedy:  the index of the largest logit; the lowest index wins ties.
//   otherwise, for row b with logits z[V]:
//     1. order the tokens by z descending, ties by lower index (the order of z / temperature, since
//        temperature > 0);
//     2. top-k: if 0 < top_k < V, keep the first top_k tokens of that order;
//     3. p_i = exp(z_i / temperature - max) / sum over the kept tokens (softmax);
//     4. top-p: if top_p < 1, keep the shortest prefix of the order whose summed p reaches top_p;
//     5. u = sample_uniform(seed, seq[b], step[b]); walking the kept tokens in that order, return the
//        first whose cumulative probability (renormalised over the kept) exceeds u; the last kept
//        token if rounding leaves none.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "ops/reference.h"
#include "ops/validate.h"

namespace ferry::ops::ref {

void sample(TensorView logits, const SamplingParams& p, TensorView seq, TensorView step, TensorView out_ids) {
  check::sample(DeviceKind::CPU, logits, p, seq, step, out_ids);
  const std::int64_t vocab = logits.dim(1);
  for (std::int64_t b = 0; b < logits.dim(0); ++b) {
    const float* z = logits.as<float>() + b * vocab;
    if (p.greedy) {
      std::int64_t best = 0;
      for (std::int64_t i = 1; i < vocab; ++i)
        if (z[i] > z[best]) best = i;
      out_ids.as<std::int32_t>()[b] = static_cast<std::int32_t>(best);
      continue;
    }
    // 1. order (a stable sort on the logit keeps equal logits in index order)
    std::vector<std::int64_t> order(static_cast<std::size_t>(vocab));
    for (std::int64_t i = 0; i < vocab; ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [z](std::int64_t a, std::int64_t c) { return z[a] > z[c]; });
    // 2. top-k
    std::int64_t kept = vocab;
    if (p.top_k > 0 && p.top_k < vocab) kept = p.top_k;
    // 3. softmax of z / temperature over the kept tokens
    std::vector<double> prob(static_cast<std::size_t>(kept));
    double max_s = static_cast<double>(z[order[0]]) / p.temperature;
    double total = 0.0;
    for (std::int64_t i = 0; i < kept; ++i) {
      prob[i] = std::exp(static_cast<double>(z[order[i]]) / p.temperature - max_s);
      total += prob[i];
    }
    for (std::int64_t i = 0; i < kept; ++i) prob[i] /= total;
    // 4. top-p
    if (p.top_p < 1.0f) {
      double cum = 0.0;
      for (std::int64_t i = 0; i < kept; ++i) {
        cum += prob[i];
        if (cum >= static_cast<double>(p.top_p)) {
          kept = i + 1;
          break;
        }
      }
    }
    double kept_total = 0.0;
    for (std::int64_t i = 0; i < kept; ++i) kept_total += prob[i];
    // 5. draw
    const double u = sample_uniform(p.seed, seq.as<std::int32_t>()[b], step.as<std::int32_t>()[b]);
    std::int64_t chosen = order[kept - 1];
    double cum = 0.0;
    for (std::int64_t i = 0; i < kept; ++i) {
      cum += prob[i] / kept_total;
      if (u < cum) {
        chosen = order[i];
        break;
      }
    }
    out_ids.as<std::int32_t>()[b] = static_cast<std::int32_t>(chosen);
  }
}

}  // namespace ferry::ops::ref
