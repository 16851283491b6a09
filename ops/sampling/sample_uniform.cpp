// sample_uniform() (ops/ops.h): one definition shared by the CPU implementation, the reference and
// anything else that needs the draw; the formula lives in ops/sampling/uniform_hash.h.
#include "ops/ops.h"
#include "ops/sampling/uniform_hash.h"

namespace ferry::ops {

double sample_uniform(std::uint64_t seed, std::int32_t seq, std::int32_t step) {
  return detail::uniform_from_counter(seed, seq, step);
}

}  // namespace ferry::ops
