// CPU embedding: out[t, :] = wte[ids[t], :] + wpe[pos[t], :] (f32).
#include <cstdint>
#include <string>

#include "ops/cpu.h"
#include "ops/cpu_isa/rows.h"
#include "ops/validate.h"

namespace ferry::ops::cpu {

void embedding(TensorView ids, TensorView pos, TensorView wte, TensorView wpe, TensorView out) {
  check::embedding(DeviceKind::CPU, ids, pos, wte, wpe, out);
  const std::int64_t n_tokens = ids.dim(0);
  const std::int64_t hidden = out.dim(1);
  const std::int64_t vocab = wte.dim(0);
  const std::int64_t ctx = wpe.dim(0);
  const auto* id = ids.as<const std::int32_t>();  // [T]
  const auto* ps = pos.as<const std::int32_t>();  // [T]
  // Indices are checked before the parallel loop (exceptions must not leave an OpenMP region).
  for (std::int64_t t = 0; t < n_tokens; ++t) {
    if (id[t] < 0 || id[t] >= vocab)
      throw InternalError("embedding: ids[" + std::to_string(t) + "] = " + std::to_string(id[t]) +
                          " outside the vocabulary of " + std::to_string(vocab));
    if (ps[t] < 0 || ps[t] >= ctx)
      throw InternalError("embedding: pos[" + std::to_string(t) + "] = " + std::to_string(ps[t]) +
                          " outside the context of " + std::to_string(ctx));
  }
  auto* o = out.as<float>();  // [T, H]; wte [V, H], wpe [C, H] in their stored types
#pragma omp parallel for schedule(static) if (n_tokens * hidden > 16384)
  for (std::int64_t t = 0; t < n_tokens; ++t) {
    row_to_f32(wte, id[t], o + t * hidden);
    row_add_f32(wpe, ps[t], o + t * hidden);
  }
}

}  // namespace ferry::ops::cpu

namespace ferry::ops::cpu {

// out[t, :] = wte[ids[t], :] * scale (the LLaMA embedding: no position table).
void embedding_lookup(TensorView ids, TensorView wte, float scale, TensorView out) {
  check::embedding_lookup(DeviceKind::CPU, ids, wte, out);
  const std::int64_t n_tokens = ids.dim(0);
  const std::int64_t hidden = out.dim(1);
  const std::int64_t vocab = wte.dim(0);
  const auto* id = ids.as<const std::int32_t>();
  for (std::int64_t t = 0; t < n_tokens; ++t)
    if (id[t] < 0 || id[t] >= vocab)
      throw InternalError("embedding_lookup: ids[" + std::to_string(t) + "] = " + std::to_string(id[t]) +
                          " outside the vocabulary of " + std::to_string(vocab));
  auto* o = out.as<float>();
#pragma omp parallel for schedule(static) if (n_tokens * hidden > 16384)
  for (std::int64_t t = 0; t < n_tokens; ++t) {
    float* y = o + t * hidden;
    row_to_f32(wte, id[t], y);
    if (scale != 1.0f)
      for (std::int64_t i = 0; i < hidden; ++i) y[i] *= scale;
  }
}

}  // namespace ferry::ops::cpu
