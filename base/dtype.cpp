#include "base/dtype.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "base/error.h"

namespace ferry {

std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::F16: return 2;
    case DType::BF16: return 2;
    case DType::I32: return 4;
  }
  return 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "f32";
    case DType::F16: return "f16";
    case DType::BF16: return "bf16";
    case DType::I32: return "i32";
  }
  return "?";
}

DType parse_dtype(std::string_view s, const std::string& what) {
  std::string v(s);
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
  if (v == "f32" || v == "float32" || v == "fp32") return DType::F32;
  if (v == "f16" || v == "float16" || v == "fp16" || v == "half") return DType::F16;
  if (v == "bf16" || v == "bfloat16") return DType::BF16;
  throw BadInput(what + ": unknown dtype '" + std::string(s) + "' (expected f32, f16 or bf16)");
}

static std::uint32_t bits_of(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
static float float_of(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// binary16 layout: 1 sign, 5 exponent (bias 15), 10 mantissa bits.
float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  std::uint32_t exp = (h >> 10) & 0x1fu;
  std::uint32_t man = h & 0x3ffu;
  if (exp == 0) {
    if (man == 0) return float_of(sign);
    // subnormal: normalise
    int e = -1;
    do {
      ++e;
      man <<= 1;
    } while ((man & 0x400u) == 0);
    man &= 0x3ffu;
    return float_of(sign | (static_cast<std::uint32_t>(127 - 15 - e) << 23) | (man << 13));
  }
  if (exp == 31) return float_of(sign | 0x7f800000u | (man << 13));
  return float_of(sign | ((exp + 127 - 15) << 23) | (man << 13));
}

std::uint16_t float_to_half(float f) {
  const std::uint32_t u = bits_of(f);
  const std::uint16_t sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
  const std::uint32_t absu = u & 0x7fffffffu;
  if (absu >= 0x7f800000u) {  // Inf or NaN
    return static_cast<std::uint16_t>(sign | 0x7c00u | (absu > 0x7f800000u ? 0x200u : 0u));
  }
  if (absu >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // overflow -> Inf
  if (absu < 0x38800000u) {  // result is subnormal or zero in half
    // value * 2^24 rounded to nearest even gives the half mantissa
    if (absu < 0x33000000u) return sign;  // < 2^-25 rounds to 0
    const std::uint32_t exp = absu >> 23;
    const std::uint32_t man = (absu & 0x7fffffu) | 0x800000u;
    const int shift = static_cast<int>(126 - exp);  // 113 - exp + 13
    std::uint32_t half_man = man >> shift;
    const std::uint32_t rem = man & ((1u << shift) - 1u);
    const std::uint32_t halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (half_man & 1u))) ++half_man;
    return static_cast<std::uint16_t>(sign | half_man);
  }
  // normal: rebias exponent, round mantissa 23 -> 10 bits to nearest even
  std::uint32_t r = absu - 0x38000000u;  // exponent bias 127 -> 15
  const std::uint32_t rem = r & 0x1fffu;
  r >>= 13;
  if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) ++r;
  return static_cast<std::uint16_t>(sign | r);
}

float bf16_to_float(std::uint16_t b) { return float_of(static_cast<std::uint32_t>(b) << 16); }

std::uint16_t float_to_bf16(float f) {
  const std::uint32_t u = bits_of(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40u);  // quiet NaN
  const std::uint32_t rounding = 0x7fffu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>((u + rounding) >> 16);
}

namespace {
template <class Load, class Store>
void convert_loop(std::size_t n, Load load, Store store) {
  for (std::size_t i = 0; i < n; ++i) store(i, load(i));
}
}  // namespace

void convert(const void* src, DType from, void* dst, DType to, std::size_t n) {
  if (n == 0) return;
  if (from == to) {
    std::memcpy(dst, src, n * dtype_size(from));
    return;
  }
  FERRY_CHECK(from != DType::I32 && to != DType::I32, "convert: integer tensors cannot be converted");
  const auto* f32 = static_cast<const float*>(src);
  const auto* u16 = static_cast<const std::uint16_t*>(src);
  auto store = [&](auto load) {
    switch (to) {
      case DType::F32: convert_loop(n, load, [&](std::size_t i, float v) { static_cast<float*>(dst)[i] = v; }); break;
      case DType::F16:
        convert_loop(n, load, [&](std::size_t i, float v) { static_cast<std::uint16_t*>(dst)[i] = float_to_half(v); });
        break;
      case DType::BF16:
        convert_loop(n, load, [&](std::size_t i, float v) { static_cast<std::uint16_t*>(dst)[i] = float_to_bf16(v); });
        break;
      default: break;
    }
  };
  // One loop per (from, to) pair, so the element conversions inline.
  switch (from) {
    case DType::F32: store([&](std::size_t i) { return f32[i]; }); break;
    case DType::F16: store([&](std::size_t i) { return half_to_float(u16[i]); }); break;
    case DType::BF16: store([&](std::size_t i) { return bf16_to_float(u16[i]); }); break;
    default: break;
  }
}

}  // namespace ferry
