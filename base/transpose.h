// Transposing a row-major matrix of 2- or 4-byte elements (the 16-bit and f32 weights), for
// weights that are packed in the other layout than their checkpoint's (models/family.h,
// TensorInfo::transpose).
#pragma once
#include <cstddef>
#include <cstdint>

namespace ferry {

// dst[c, r] = src[r, c] for src [rows, cols] row-major; elem is 2 or 4 (InternalError otherwise).
// Threaded (OpenMP) in tiles that stay in L1, so both sides are read and written in whole lines.
void transpose(const void* src, void* dst, std::int64_t rows, std::int64_t cols, std::size_t elem);

}  // namespace ferry
