// Dequantization of ggml's block formats into f32. The block layouts are ggml's (ggml-common.h
// block_q4_0 ... block_q6_K; the dequantization arithmetic as in ggml's dequantize_row_*), written
// here from those definitions: no library outside llama.cpp reads them.
#include <cstring>

#include "base/dtype.h"
#include "base/error.h"
#include "models/gguf.h"

namespace ferry {
namespace {

enum : std::uint32_t { F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q4_K = 12, Q6_K = 14, BF16 = 30 };

float f16(const std::byte* p) {
  std::uint16_t h;
  std::memcpy(&h, p, 2);
  return half_to_float(h);
}
const std::uint8_t* u8(const std::byte* p) { return reinterpret_cast<const std::uint8_t*>(p); }

// block_q4_0 (18 bytes, 32 values): f16 d; u8 qs[16]. x[j] = ((qs[j] & 15) - 8) d, x[j+16] = ((qs[j] >> 4) - 8) d.
void q4_0(const std::byte* b, float* y) {
  const float d = f16(b);
  const std::uint8_t* qs = u8(b + 2);
  for (int j = 0; j < 16; ++j) {
    y[j] = static_cast<float>((qs[j] & 0xF) - 8) * d;
    y[j + 16] = static_cast<float>((qs[j] >> 4) - 8) * d;
  }
}
// block_q4_1 (20 bytes): f16 d, f16 m; u8 qs[16]. x = q d + m.
void q4_1(const std::byte* b, float* y) {
  const float d = f16(b), m = f16(b + 2);
  const std::uint8_t* qs = u8(b + 4);
  for (int j = 0; j < 16; ++j) {
    y[j] = static_cast<float>(qs[j] & 0xF) * d + m;
    y[j + 16] = static_cast<float>(qs[j] >> 4) * d + m;
  }
}
// block_q5_0 (22 bytes): f16 d; u8 qh[4] (the fifth bits, little endian); u8 qs[16]. x = (q - 16) d.
void q5_0(const std::byte* b, float* y) {
  const float d = f16(b);
  std::uint32_t qh;
  std::memcpy(&qh, b + 2, 4);
  const std::uint8_t* qs = u8(b + 6);
  for (int j = 0; j < 16; ++j) {
    const int h0 = ((qh >> j) << 4) & 0x10, h1 = (qh >> (j + 12)) & 0x10;
    y[j] = static_cast<float>(((qs[j] & 0xF) | h0) - 16) * d;
    y[j + 16] = static_cast<float>(((qs[j] >> 4) | h1) - 16) * d;
  }
}
// block_q5_1 (24 bytes): f16 d, f16 m; u8 qh[4]; u8 qs[16]. x = q d + m.
void q5_1(const std::byte* b, float* y) {
  const float d = f16(b), m = f16(b + 2);
  std::uint32_t qh;
  std::memcpy(&qh, b + 4, 4);
  const std::uint8_t* qs = u8(b + 8);
  for (int j = 0; j < 16; ++j) {
    const int h0 = ((qh >> j) << 4) & 0x10, h1 = (qh >> (j + 12)) & 0x10;
    y[j] = static_cast<float>((qs[j] & 0xF) | h0) * d + m;
    y[j + 16] = static_cast<float>((qs[j] >> 4) | h1) * d + m;
  }
}
// block_q8_0 (34 bytes): f16 d; i8 qs[32]. x = q d.
void q8_0(const std::byte* b, float* y) {
  const float d = f16(b);
  for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(static_cast<std::int8_t>(u8(b + 2)[j])) * d;
}
// Q4_K's 6-bit scale and min of sub-block j (of 8) from the 12 packed bytes (ggml get_scale_min_k4).
void scale_min_k4(int j, const std::uint8_t* q, std::uint8_t& sc, std::uint8_t& m) {
  if (j < 4) {
    sc = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    sc = static_cast<std::uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    m = static_cast<std::uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}
// block_q4_K (144 bytes, 256 values): f16 d, f16 dmin; u8 scales[12]; u8 qs[128]. Eight sub-blocks of
// 32: x = d sc_j q - dmin m_j; each 64 values share 32 bytes (low nibbles, then high nibbles).
void q4_k(const std::byte* b, float* y) {
  const float d = f16(b), dmin = f16(b + 2);
  const std::uint8_t* scales = u8(b + 4);
  const std::uint8_t* q = u8(b + 16);
  for (int j = 0, is = 0; j < 256; j += 64, is += 2, q += 32) {
    std::uint8_t sc, m;
    scale_min_k4(is, scales, sc, m);
    const float d1 = d * sc, m1 = dmin * m;
    scale_min_k4(is + 1, scales, sc, m);
    const float d2 = d * sc, m2 = dmin * m;
    for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0xF) - m1;
    for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
  }
}
// block_q6_K (210 bytes, 256 values): u8 ql[128] (low 4 bits); u8 qh[64] (high 2 bits); i8 scales[16];
// f16 d. x = d scale q, q in [-32, 32).
void q6_k(const std::byte* b, float* y) {
  const std::uint8_t* ql = u8(b);
  const std::uint8_t* qh = u8(b + 128);
  const auto* sc = reinterpret_cast<const std::int8_t*>(b + 192);
  const float d = f16(b + 208);
  for (int n = 0; n < 256; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l] = d * sc[is] * static_cast<float>(q1);
      y[l + 32] = d * sc[is + 2] * static_cast<float>(q2);
      y[l + 64] = d * sc[is + 4] * static_cast<float>(q3);
      y[l + 96] = d * sc[is + 6] * static_cast<float>(q4);
    }
  }
}

}  // namespace

const char* ggml_type_name(std::uint32_t type) {
  switch (type) {
    case F32: return "F32";
    case F16: return "F16";
    case BF16: return "BF16";
    case Q4_0: return "Q4_0";
    case Q4_1: return "Q4_1";
    case Q5_0: return "Q5_0";
    case Q5_1: return "Q5_1";
    case Q8_0: return "Q8_0";
    case Q4_K: return "Q4_K";
    case Q6_K: return "Q6_K";
    default: return nullptr;
  }
}

bool ggml_block(std::uint32_t type, std::uint64_t& elems, std::uint64_t& bytes) {
  switch (type) {
    case F32: elems = 1, bytes = 4; return true;
    case F16: case BF16: elems = 1, bytes = 2; return true;
    case Q4_0: elems = 32, bytes = 18; return true;
    case Q4_1: elems = 32, bytes = 20; return true;
    case Q5_0: elems = 32, bytes = 22; return true;
    case Q5_1: elems = 32, bytes = 24; return true;
    case Q8_0: elems = 32, bytes = 34; return true;
    case Q4_K: elems = 256, bytes = 144; return true;
    case Q6_K: elems = 256, bytes = 210; return true;
    default: return false;
  }
}

void dequantize(std::uint32_t type, const std::byte* src, float* dst, std::uint64_t n) {
  std::uint64_t be = 0, bb = 0;
  if (!ggml_block(type, be, bb)) throw InternalError("dequantize: unknown ggml type " + std::to_string(type));
  FERRY_CHECK(n % be == 0, "dequantize: not a whole number of blocks");
  if (type == F32) return std::memcpy(dst, src, n * 4), void();
  if (type == F16) return convert(src, DType::F16, dst, DType::F32, n);
  if (type == BF16) return convert(src, DType::BF16, dst, DType::F32, n);
  void (*block)(const std::byte*, float*) = type == Q4_0 ? q4_0 : type == Q4_1 ? q4_1 : type == Q5_0 ? q5_0
                                          : type == Q5_1 ? q5_1 : type == Q8_0 ? q8_0 : type == Q4_K ? q4_k : q6_k;
  const std::int64_t blocks = static_cast<std::int64_t>(n / be);
#pragma omp parallel for schedule(static) if (blocks > 4096)
  for (std::int64_t i = 0; i < blocks; ++i)
    block(src + static_cast<std::uint64_t>(i) * bb, dst + static_cast<std::uint64_t>(i) * be);
}

}  // namespace ferry
