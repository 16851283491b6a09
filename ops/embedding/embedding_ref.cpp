// Scalar reference for embedding (tests only).
#include <cstdint>

#include "ops/reference.h"
#include "ops/validate.h"

namespace ferry::ops::ref {

void embedding(TensorView ids, TensorView pos, TensorView wte, TensorView wpe, TensorView out) {
  check::embedding(DeviceKind::CPU, ids, pos, wte, wpe, out);
  const std::int64_t hidden = out.dim(1);
  for (std::int64_t t = 0; t < ids.dim(0); ++t) {
    const std::int64_t token = ids.as<std::int32_t>()[t];
    const std::int64_t position = pos.as<std::int32_t>()[t];
    FERRY_CHECK(token >= 0 && token < wte.dim(0), "ref::embedding: token id out of range");
    FERRY_CHECK(position >= 0 && position < wpe.dim(0), "ref::embedding: position out of range");
    for (std::int64_t i = 0; i < hidden; ++i) {
      const double v = static_cast<double>(wte.as<float>()[token * hidden + i]) +
                       static_cast<double>(wpe.as<float>()[position * hidden + i]);
      out.as<float>()[t * hidden + i] = static_cast<float>(v);
    }
  }
}

}  // namespace ferry::ops::ref

namespace ferry::ops::ref {

void embedding_lookup(TensorView ids, TensorView wte, float scale, TensorView out) {
  check::embedding_lookup(DeviceKind::CPU, ids, wte, out);
  const std::int64_t hidden = out.dim(1);
  for (std::int64_t t = 0; t < ids.dim(0); ++t) {
    const std::int64_t token = ids.as<std::int32_t>()[t];
    FERRY_CHECK(token >= 0 && token < wte.dim(0), "ref::embedding_lookup: token id out of range");
    for (std::int64_t i = 0; i < hidden; ++i)
      out.as<float>()[t * hidden + i] =
          static_cast<float>(static_cast<double>(wte.as<float>()[token * hidden + i]) * scale);
  }
}

}  // namespace ferry::ops::ref
