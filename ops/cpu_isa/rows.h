// Rows of a weight tensor (f32, f16 or bf16) read as f32 by the CPU ops, through the ISA kernels.
#pragma once
#include <cstdint>

#include "base/tensor.h"

namespace ferry::ops::cpu {

// dst[0:C) = row r of the 2-D (or, r = 0, 1-D) tensor v as f32, C its last dimension.
void row_to_f32(const TensorView& v, std::int64_t r, float* dst);
// dst[0:C) += row r of v.
void row_add_f32(const TensorView& v, std::int64_t r, float* dst);
// The 1-D tensor v as f32: its own data when it is f32, else widened into `space` (>= v.numel()).
const float* vector_f32(const TensorView& v, float* space);

}  // namespace ferry::ops::cpu
