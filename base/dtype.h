// Element types of tensors, and conversions between the storage types and fp32.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ferry {

enum class DType : std::uint8_t { F32, F16, BF16, I32 };

std::size_t dtype_size(DType t);
const char* dtype_name(DType t);  // "f32", "f16", "bf16", "i32"
// Accepts f32/float32, f16/float16, bf16/bfloat16 (case-insensitive); throws BadInput naming `what`.
DType parse_dtype(std::string_view s, const std::string& what);

// IEEE-754 binary16 and bfloat16 <-> binary32, round to nearest even, NaN/Inf preserved.
float half_to_float(std::uint16_t h);
std::uint16_t float_to_half(float f);
float bf16_to_float(std::uint16_t b);
std::uint16_t float_to_bf16(float f);

// Converts n elements from src (of type from) to dst (of type to). F32/F16/BF16 only.
void convert(const void* src, DType from, void* dst, DType to, std::size_t n);

}  // namespace ferry
