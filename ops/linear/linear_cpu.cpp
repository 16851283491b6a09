// CPU linear, activation and logits. Weights f32, f16 or bf16 (kept in their stored type; ferry
// issue 11), activations and accumulation f32.
//   One row (decode): ops/linear/matvec_cpu.cpp, the ISA kernels at the memory bound.
//   Several rows (prefill): the BLAS library's sgemm (bench/results/cpu/gemm-libs and
//   docs/cpu-kernels.md say which library and why). 16-bit weights are widened to f32 a tile of
//   output columns at a time into the stream's scratch (no allocation) and multiplied tile by tile;
//   two or three rows are cheaper as that many matrix-vector products than as a widened copy.
// The bias is fused by pre-filling the output with it (sgemm with beta = 1), the activation is one
// pass over the output afterwards.
#include <cblas.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <string>

#include "ops/cpu.h"
#include "ops/cpu_isa/isa.h"
#include "ops/linear/linear_cpu.h"
#include "ops/validate.h"

namespace ferry::ops::cpu {
namespace {

using detail::epilogue;
using detail::wtype;

// Rows from which a 16-bit weight is widened and multiplied by sgemm rather than read once per row.
constexpr std::int64_t kWidenMinRows = 4;
// Floats of one widened tile: 2 MiB, so the tile sgemm reads back is still in the core's L2/L3.
constexpr std::size_t kTileFloats = std::size_t{512} << 10;

blasint blas_dim(std::int64_t v, const char* op) {
  if (v > static_cast<std::int64_t>(INT_MAX))
    throw InternalError(std::string(op) + ": dimension " + std::to_string(v) + " exceeds the BLAS int range");
  return static_cast<blasint>(v);
}

// y[m, ldc] (columns [0, n) of it) += x[m, k] · W, W = w[k, n] (ldw) or w[n, k]^T, f32.
void sgemm_acc(const char* op, const float* x, std::int64_t m, std::int64_t k, const float* w, bool kn, std::int64_t n,
               std::int64_t ldw, float* y, std::int64_t ldc) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, kn ? CblasNoTrans : CblasTrans, blas_dim(m, op), blas_dim(n, op),
              blas_dim(k, op), 1.0f, x, blas_dim(k, op), w, blas_dim(ldw, op), 1.0f, y, blas_dim(ldc, op));
}

// The columns [n0, n0 + nb) of W, widened to f32 into dst: [k, nb] for KN, [nb, k] for NK.
void widen_tile(TensorView w, bool kn, std::int64_t k, std::int64_t n, std::int64_t n0, std::int64_t nb, float* dst) {
  const Kernels& kern = cpu_kernels();
  const WType t = wtype(w.dtype);
  const auto* base = static_cast<const std::byte*>(w.data);
  const std::size_t es = dtype_size(w.dtype);
  const std::int64_t rows = kn ? k : nb;
  const std::int64_t len = kn ? nb : k;
#pragma omp parallel for schedule(static) if (rows * len > 65536)
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int64_t elem = kn ? r * n + n0 : (n0 + r) * k;
    kern.to_f32(base + static_cast<std::size_t>(elem) * es, t, len, dst + r * len);
  }
}

// y[T, N] += x[T, K] · W for 16-bit W, tile by tile through the scratch.
void gemm_widened(const char* op, const float* x, std::int64_t m, std::int64_t k, TensorView w, bool kn, std::int64_t n,
                  float* y, Scratch scratch) {
  const std::int64_t cap = static_cast<std::int64_t>(std::min(scratch.floats, kTileFloats)) / std::max<std::int64_t>(k, 1);
  if (cap < 16)
    throw InternalError(std::string(op) + ": K = " + std::to_string(k) + " is too long for the CPU stream's scratch of " +
                        std::to_string(scratch.floats) + " floats");
  const std::int64_t nb = std::min(n, cap / 16 * 16);
  for (std::int64_t n0 = 0; n0 < n; n0 += nb) {
    const std::int64_t cols = std::min(nb, n - n0);
    widen_tile(w, kn, k, n, n0, cols, scratch.data);
    sgemm_acc(op, x, m, k, scratch.data, kn, cols, kn ? cols : k, y + n0, n);
  }
}

// out[T, N] = act(x[T, K] · W + bias[N]), W = w[K, N] (KN) or w[N, K]^T (NK); bias may be absent.
void linear_rows(const char* op, TensorView x, TensorView w, WeightLayout layout, TensorView bias, Activation act,
                 TensorView out, Scratch scratch) {
  const std::int64_t m = x.dim(0);
  const std::int64_t k = x.dim(1);
  const std::int64_t n = out.dim(1);
  if (m == 0 || n == 0) return;
  const auto* xp = x.as<const float>();
  auto* y = out.as<float>();  // [T, N]
  const bool wide = w.dtype != DType::F32;
  if (m == 1 || (wide && m < kWidenMinRows)) {
    for (std::int64_t t = 0; t < m; ++t) detail::matvec(xp + t * k, w, layout, bias, act, y + t * n, scratch);
    return;
  }
#pragma omp parallel for schedule(static) if (m * n > 65536)
  for (std::int64_t t = 0; t < m; ++t) {
    std::memset(y + t * n, 0, static_cast<std::size_t>(n) * sizeof(float));
    if (bias.present()) epilogue(y + t * n, 0, n, bias, Activation::None);
  }
  const bool kn = layout == WeightLayout::KN;
  if (k > 0) {
    if (wide)
      gemm_widened(op, xp, m, k, w, kn, n, y, scratch);
    else
      sgemm_acc(op, xp, m, k, w.as<const float>(), kn, n, kn ? n : k, y, n);
  }
  if (act != Activation::None) {
#pragma omp parallel for schedule(static) if (m * n > 32768)
    for (std::int64_t t = 0; t < m; ++t) epilogue(y + t * n, 0, n, TensorView{}, act);
  }
}

}  // namespace

void linear(TensorView x, TensorView w, WeightLayout layout, TensorView bias, Activation act, TensorView out,
            Scratch scratch) {
  check::linear(DeviceKind::CPU, x, w, layout, bias, out);
  linear_rows("linear", x, w, layout, bias, act, out, scratch);
}

void activation(TensorView x, Activation act) {
  check::activation(DeviceKind::CPU, x);
  const std::int64_t n = x.numel();
  float* p = x.as<float>();
  constexpr std::int64_t kChunk = 4096;
#pragma omp parallel for schedule(static) if (n > 32768)
  for (std::int64_t c = 0; c < n; c += kChunk) epilogue(p + c, 0, std::min(kChunk, n - c), TensorView{}, act);
}

void logits(TensorView x, TensorView wte, TensorView out, Scratch scratch) {
  check::logits(DeviceKind::CPU, x, wte, out);
  linear_rows("logits", x, wte, WeightLayout::NK, TensorView{}, Activation::None, out, scratch);
}

}  // namespace ferry::ops::cpu
