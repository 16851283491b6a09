// The counter-based uniform draw behind sample_uniform() (ops/ops.h), as a constexpr function so a
// CUDA kernel can call the very same code (nvcc --expt-relaxed-constexpr) and every backend draws the
// same number for the same (seed, seq, step). C++17, no CUDA types.
//
// Mixing function: the splitmix64 finaliser (Steele, Lea, Flood, "Fast splittable pseudorandom
// number generators", OOPSLA 2014; constants from Vigna's public-domain splitmix64.c). Each input
// word is added to the state with the golden-ratio increment and mixed, so the draw is a hash of the
// counter (seed, seq, step) rather than a position in a sequential stream.
#pragma once
#include <cstdint>

namespace ferry::ops::detail {

constexpr std::uint64_t splitmix64_mix(std::uint64_t z) {
  z += 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// h = mix(mix(seed) ^ (u32(seq) << 32 | u32(step))); u = top 53 bits of h / 2^53, in [0, 1).
constexpr double uniform_from_counter(std::uint64_t seed, std::int32_t seq, std::int32_t step) {
  const std::uint64_t counter = (static_cast<std::uint64_t>(static_cast<std::uint32_t>(seq)) << 32) |
                                static_cast<std::uint64_t>(static_cast<std::uint32_t>(step));
  const std::uint64_t h = splitmix64_mix(splitmix64_mix(seed) ^ counter);
  return static_cast<double>(h >> 11) * (1.0 / 9007199254740992.0);  // 2^53
}

}  // namespace ferry::ops::detail
