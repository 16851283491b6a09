// The CPU's inner loops, one table per instruction set (ops/cpu_isa/kernels_<isa>.cpp, each file
// compiled for its ISA alone), chosen at run time for the CPU present (ops/cpu_isa/isa.cpp): the
// binary stays portable and needs no -march=native. They read weights in their stored type (f32,
// f16, bf16), convert them in registers and accumulate in f32.
//
// Nothing here is inline or a template visible to other files: a function compiled for AVX-512 in
// one file must never be merged by the linker with a copy another file needs for a plainer CPU.
// The drivers (threads, epilogues, the GEMM path) live in ops/linear/ and call through the table.
#pragma once
#include <cstdint>

namespace ferry::ops::cpu {

enum class WType : std::uint8_t { F32, F16, BF16 };

// Rows and head dimension one Kernels::attend call takes at most (the callers split larger work,
// and keep a scalar path for wider heads).
constexpr int kAttendRows = 8;
constexpr int kAttendMaxDim = 256;

// Attention of `rows` query rows (row r at q + r * q_stride) over keys j at
// k + j * kv_stride + g * head_dim and values at v + j * kv_stride + g * head_dim, g = r / kv_group
// (the row's KV head, counted from the first): row r sees keys [0, n_keys + r * step) (step 1:
// consecutive causal rows of one head of a sequence, kv_group >= rows; step 0: decode, the query
// heads of one row, kv_group of them per KV head), and out + r * out_stride =
// softmax_j(scale * q_r · k_j) v_j. f32 throughout.
struct AttendRows {
  const float* q;
  std::int64_t q_stride;
  const float* k;
  const float* v;
  std::int64_t kv_stride;
  std::int64_t n_keys;
  int step;
  int kv_group;  // >= 1
  int rows;      // 1 .. kAttendRows
  int head_dim;  // 1 .. kAttendMaxDim
  float scale;
  float* out;
  std::int64_t out_stride;
};

struct Kernels {
  const char* isa;  // "generic", "avx2", "avx512"
  // y[i] = sum_j x[j] * w[(n0 + i) * k + j] for i in [0, rows): dot products with the rows of an
  // NK weight w[N, k] (nn.Linear layout, the LM head).
  void (*dot_rows)(const float* x, const void* w, WType t, std::int64_t k, std::int64_t n0, std::int64_t rows, float* y);
  // y[j] += sum_i x[i] * w[i * ld + n0 + j] for j in [0, cols), i in [0, k): a column block of a
  // KN weight w[k, ld] (GPT-2's Conv1D layout), accumulated into y, which stays in L1.
  void (*axpy_rows)(const float* x, const void* w, WType t, std::int64_t k, std::int64_t ld, std::int64_t n0,
                    std::int64_t cols, float* y);
  // dst[i] = src[i] as f32, i in [0, n).
  void (*to_f32)(const void* src, WType t, std::int64_t n, float* dst);
  // The online-softmax attention of AttendRows (ops/cpu_isa/attend_impl.h).
  void (*attend)(const AttendRows& a);
  // y[i] = gelu_tanh(y[i]), i in [0, n) (ops/cpu_isa/vec_math.h).
  void (*gelu_tanh)(float* y, std::int64_t n);
  // y[i] = silu(g[i]) * u[i], i in [0, n).
  void (*silu_mul)(const float* g, const float* u, std::int64_t n, float* y);
  // y[i] = exp(x[i] - shift) for x[i] <= shift, i in [0, n); returns their sum (a softmax row).
  float (*exp_shifted)(const float* x, float shift, std::int64_t n, float* y);
};

extern const Kernels kGenericKernels;
#if defined(__x86_64__)
extern const Kernels kAvx2Kernels;    // AVX2 + FMA + F16C
extern const Kernels kAvx512Kernels;  // AVX-512 F + BW + VL
#endif

}  // namespace ferry::ops::cpu
