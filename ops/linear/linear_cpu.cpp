// CPU linear, activation and logits. Weights f32, f16 or bf16 (kept in their stored type; ferry
// issue 11), activations and accumulation f32.
//   One row (decode): ops/linear/matvec_cpu.cpp, the ISA kernels at the memory bound.
//   Several rows (prefill): the BLAS library's sgemm (bench/results/cpu/gemm-libs and
//   docs/cpu-kernels.md say which library and why). 16-bit weights are widened to f32 a band of
//   whole weight rows at a time into the stream's scratch (no allocation) and multiplied band by
//   band; two or three rows are cheaper as that many matrix-vector products than as a widened copy.
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
// Floats of one widened band of weight rows: 8 MiB, in the last-level cache when sgemm reads it.
constexpr std::size_t kTileFloats = std::size_t{2} << 20;

blasint blas_dim(std::int64_t v, const char* op) {
  if (v > static_cast<std::int64_t>(INT_MAX))
    throw InternalError(std::string(op) + ": dimension " + std::to_string(v) + " exceeds the BLAS int range");
  return static_cast<blasint>(v);
}

// y[m, ldc] (columns [0, n) of it) += x[m, k] (ldx) · W, W = w[k, n] (ldw) or w[n, k]^T, f32.
void sgemm_acc(const char* op, const float* x, std::int64_t ldx, std::int64_t m, std::int64_t k, const float* w, bool kn,
               std::int64_t n, std::int64_t ldw, float* y, std::int64_t ldc) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, kn ? CblasNoTrans : CblasTrans, blas_dim(m, op), blas_dim(n, op),
              blas_dim(k, op), 1.0f, x, blas_dim(ldx, op), w, blas_dim(ldw, op), 1.0f, y, blas_dim(ldc, op));
}

// dst[0:count) = src[0:count) widened to f32, the threads on equal parts: one sequential stream each.
void widen(const std::byte* src, WType t, std::size_t es, std::int64_t count, float* dst) {
  const Kernels& kern = cpu_kernels();
  constexpr std::int64_t kPart = 1 << 16;
#pragma omp parallel for schedule(static) if (count > kPart)
  for (std::int64_t c = 0; c < count; c += kPart)
    kern.to_f32(src + static_cast<std::size_t>(c) * es, t, std::min(kPart, count - c), dst + c);
}

// y[T, N] += x[T, K] · W for 16-bit W, band by band through the scratch. A band is a run of whole
// rows of w, contiguous in memory (read once, one stream per thread): for NK, rows of w are output
// columns, so a band is a column block of y; for KN, rows of w are a slice of K, so a band adds
// x[:, k0:k1] · w[k0:k1, :] into all of y. (Column blocks of a KN weight, a short run from every
// row, widened slower: bench/results/cpu/kernels-epyc, prefill/*.)
void gemm_widened(const char* op, const float* x, std::int64_t m, std::int64_t k, TensorView w, bool kn, std::int64_t n,
                  float* y, Scratch scratch) {
  const std::int64_t row_len = kn ? n : k;  // elements per row of w
  const std::int64_t rows = kn ? k : n;
  const std::int64_t cap = static_cast<std::int64_t>(std::min(scratch.floats, kTileFloats)) / std::max<std::int64_t>(row_len, 1);
  if (cap < 1)
    throw InternalError(std::string(op) + ": a row of " + std::to_string(row_len) +
                        " weights does not fit the CPU stream's scratch of " + std::to_string(scratch.floats) + " floats");
  const std::int64_t band = std::min(rows, cap);
  const WType t = wtype(w.dtype);
  const std::size_t es = dtype_size(w.dtype);
  const auto* base = static_cast<const std::byte*>(w.data);
  for (std::int64_t r0 = 0; r0 < rows; r0 += band) {
    const std::int64_t nr = std::min(band, rows - r0);
    widen(base + static_cast<std::size_t>(r0 * row_len) * es, t, es, nr * row_len, scratch.data);
    if (kn)
      sgemm_acc(op, x + r0, k, m, nr, scratch.data, true, n, n, y, n);
    else
      sgemm_acc(op, x, k, m, k, scratch.data, false, nr, k, y + r0, n);
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
      sgemm_acc(op, xp, k, m, k, w.as<const float>(), kn, n, kn ? n : k, y, n);
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

void linear_residual(TensorView x, TensorView w, WeightLayout layout, TensorView bias, float scale, TensorView tmp,
                     TensorView residual, Scratch scratch) {
  check::linear_residual(DeviceKind::CPU, x, w, layout, bias, tmp, residual);
  const std::int64_t m = x.dim(0);
  const std::int64_t n = residual.dim(1);
  if (m == 1) {
    detail::matvec(x.as<const float>(), w, layout, detail::MatvecOut{residual.as<float>(), bias, Activation::None, true, scale},
                   scratch);
    return;
  }
  linear_rows("linear_residual", x, w, layout, bias, Activation::None, tmp, scratch);
  const float* d = tmp.as<const float>();
  float* r = residual.as<float>();
  const std::int64_t total = m * n;
#pragma omp parallel for schedule(static) if (total > 65536)
  for (std::int64_t i = 0; i < total; ++i) r[i] += scale * d[i];
}

void linear_swiglu(TensorView x, TensorView w, TensorView gate_up, TensorView out, Scratch scratch) {
  check::linear_swiglu(DeviceKind::CPU, x, w, gate_up, out);
  if (x.dim(0) == 1) {
    detail::matvec_swiglu(x.as<const float>(), w, out.as<float>());
    return;
  }
  linear_rows("linear_swiglu", x, w, WeightLayout::NK, TensorView{}, Activation::None, gate_up, scratch);
  swiglu(gate_up, out);
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
