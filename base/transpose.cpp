#include "base/transpose.h"

#include <algorithm>
#include <string>

#include "base/error.h"

namespace ferry {
namespace {

constexpr std::int64_t kTile = 32;

template <class T>
void transpose_t(const T* src, T* dst, std::int64_t rows, std::int64_t cols) {
  const std::int64_t row_tiles = (rows + kTile - 1) / kTile;
  const std::int64_t col_tiles = (cols + kTile - 1) / kTile;
#pragma omp parallel for schedule(static) if (rows * cols > (std::int64_t{1} << 16))
  for (std::int64_t t = 0; t < row_tiles * col_tiles; ++t) {
    const std::int64_t r0 = t / col_tiles * kTile, c0 = t % col_tiles * kTile;
    const std::int64_t r1 = std::min(rows, r0 + kTile), c1 = std::min(cols, c0 + kTile);
    for (std::int64_t c = c0; c < c1; ++c)
      for (std::int64_t r = r0; r < r1; ++r) dst[c * rows + r] = src[r * cols + c];
  }
}

}  // namespace

void transpose(const void* src, void* dst, std::int64_t rows, std::int64_t cols, std::size_t elem) {
  if (elem == 4) return transpose_t(static_cast<const std::uint32_t*>(src), static_cast<std::uint32_t*>(dst), rows, cols);
  if (elem == 2) return transpose_t(static_cast<const std::uint16_t*>(src), static_cast<std::uint16_t*>(dst), rows, cols);
  throw InternalError("transpose: elements of " + std::to_string(elem) + " bytes (2 or 4 expected)");
}

}  // namespace ferry
