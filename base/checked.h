// Overflow-checked size arithmetic for sizes read from files: every element count and byte size
// computed from a shape, a header or a model dimension goes through these, so a hostile file gets
// a BadInput instead of a wrapped (or, for signed types, undefined) result.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <optional>

namespace ferry {

// a * b, or nullopt when it does not fit in 64 bits.
[[nodiscard]] constexpr std::optional<std::uint64_t> checked_mul(std::uint64_t a, std::uint64_t b) {
  std::uint64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

// a + b, or nullopt when it does not fit in 64 bits.
[[nodiscard]] constexpr std::optional<std::uint64_t> checked_add(std::uint64_t a, std::uint64_t b) {
  std::uint64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
  return r;
}

// The product of `dims` (1 for none), or nullopt when it overflows. A zero anywhere gives 0 even
// when the other factors alone would overflow, as numpy and safetensors count elements.
template <class Range>
[[nodiscard]] constexpr std::optional<std::uint64_t> checked_product(const Range& dims) {
  std::uint64_t n = 1;
  bool overflow = false;
  for (const auto d : dims) {
    if (d == 0) return 0;
    const std::optional<std::uint64_t> m = checked_mul(n, static_cast<std::uint64_t>(d));
    if (!m) overflow = true;
    else n = *m;
  }
  if (overflow) return std::nullopt;
  return n;
}

[[nodiscard]] constexpr std::optional<std::uint64_t> checked_product(std::initializer_list<std::uint64_t> dims) {
  return checked_product<std::initializer_list<std::uint64_t>>(dims);
}

}  // namespace ferry
