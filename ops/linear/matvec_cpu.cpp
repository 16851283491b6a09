// The matrix-vector product of decode (one row of activations against a weight matrix): memory
// bound, so its job is to keep every core reading weights at the memory's bandwidth, each thread
// through its own contiguous band of the weight, with several sequential streams in flight (see
// matvec_kn/matvec_nk).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "base/error.h"
#include "ops/cpu_isa/isa.h"
#include "ops/linear/linear_cpu.h"

namespace ferry::ops::cpu::detail {
namespace {

// GELU (Hendrycks, Gimpel, "Gaussian Error Linear Units", 2016), exact erf form; the tanh
// approximation GPT-2 uses is Kernels::gelu_tanh (vectorised, ops/cpu_isa/vec_math.h).
inline float gelu_erf(float x) {
  constexpr float kInvSqrt2 = 0.7071067811865476f;
  return 0.5f * x * (1.0f + std::erf(x * kInvSqrt2));
}

constexpr std::int64_t kBlock = 1024;  // NK outputs per kernel call (and the epilogue's chunk)

// Below this many weights one thread does it all: waking the pool costs more than it saves.
constexpr std::int64_t kParallelMin = std::int64_t{1} << 15;

}  // namespace

WType wtype(DType t) {
  switch (t) {
    case DType::F32:
      return WType::F32;
    case DType::F16:
      return WType::F16;
    case DType::BF16:
      return WType::BF16;
    default:
      throw InternalError(std::string("linear: ") + dtype_name(t) + " is not a weight dtype");
  }
}

void epilogue(float* y, std::int64_t n0, std::int64_t n, TensorView bias, Activation act) {
  if (bias.present() && bias.dtype == DType::F32) {
    const float* b = bias.as<const float>() + n0;
    for (std::int64_t i = 0; i < n; ++i) y[i] += b[i];
  } else if (bias.present()) {  // 16-bit: widened a block at a time
    float b[kBlock];
    for (std::int64_t c = 0; c < n; c += kBlock) {
      const std::int64_t m = std::min(kBlock, n - c);
      const auto* src = static_cast<const std::byte*>(bias.data) + (n0 + c) * static_cast<std::int64_t>(dtype_size(bias.dtype));
      cpu_kernels().to_f32(src, wtype(bias.dtype), m, b);
      for (std::int64_t i = 0; i < m; ++i) y[c + i] += b[i];
    }
  }
  switch (act) {
    case Activation::None:
      return;
    case Activation::GeluTanh:
      cpu_kernels().gelu_tanh(y, n);
      return;
    case Activation::GeluErf:
      for (std::int64_t i = 0; i < n; ++i) y[i] = gelu_erf(y[i]);
      return;
    case Activation::Tanh:  // BERT's pooler
      for (std::int64_t i = 0; i < n; ++i) y[i] = std::tanh(y[i]);
      return;
  }
}

namespace {

// Applies the epilogue to the block v[0:m) of outputs [c, c + m) and writes it to out.y.
void finish(float* v, std::int64_t c, std::int64_t m, const MatvecOut& out) {
  epilogue(v, c, m, out.bias, out.act);
  if (out.residual) {
    for (std::int64_t i = 0; i < m; ++i) out.y[c + i] += out.scale * v[i];
  } else if (v != out.y + c) {
    std::memcpy(out.y + c, v, static_cast<std::size_t>(m) * sizeof(float));
  }
}

// The first multiple of 16 at or after share i of n among `threads` (n for the last).
std::int64_t split16(std::int64_t n, std::int64_t i, std::int64_t threads) {
  return i >= threads ? n : std::min(n, (n * i / threads + 15) / 16 * 16);
}

// KN (w[K, N], row-major): each thread takes a contiguous band of rows (walked four rows at a time
// by the kernel; one row at a time measured slower), accumulates x[k0:k1] · w[k0:k1, :] into its
// own partial row in the scratch, and after a barrier every thread sums the partials over its
// share of the columns and applies the epilogue. Splitting the columns instead gives each thread a
// strided read (part of every row), which the prefetchers, stopping at page boundaries, follow
// worse (bench/results/cpu/kernels-epyc).
void matvec_kn(const Kernels& kern, const float* x, const std::byte* wp, WType t, std::size_t es, std::int64_t k,
               std::int64_t n, const MatvecOut& out, float* partials, bool parallel) {
#pragma omp parallel if (parallel)
  {
    const std::int64_t threads = omp_get_num_threads();
    const std::int64_t id = omp_get_thread_num();
    const std::int64_t k0 = k * id / threads, k1 = k * (id + 1) / threads;
    float* part = partials + id * n;
    std::memset(part, 0, static_cast<std::size_t>(n) * sizeof(float));
    kern.axpy_rows(x + k0, wp + static_cast<std::size_t>(k0 * n) * es, t, k1 - k0, n, 0, n, part);
#pragma omp barrier
    const std::int64_t c1 = split16(n, id + 1, threads);
    float v[kBlock];
    for (std::int64_t c = split16(n, id, threads); c < c1; c += kBlock) {
      const std::int64_t m = std::min(kBlock, c1 - c);
      for (std::int64_t i = 0; i < m; ++i) {
        float s = 0.0f;
        for (std::int64_t p = 0; p < threads; ++p) s += partials[p * n + c + i];
        v[i] = s;
      }
      finish(v, c, m, out);
    }
  }
}

// NK (w[N, K]): each thread takes a contiguous band of output rows, which is a contiguous band of
// the weight, read by the kernel in 8 parts side by side (ops/cpu_isa/kernel_table.h), the
// epilogue on each block while it is hot.
void matvec_nk(const Kernels& kern, const float* x, const void* wp, WType t, std::int64_t k, std::int64_t n,
               const MatvecOut& out, bool parallel) {
#pragma omp parallel if (parallel)
  {
    const std::int64_t threads = omp_get_num_threads();
    const std::int64_t id = omp_get_thread_num();
    const std::int64_t n1 = split16(n, id + 1, threads);
    float v[kBlock];
    for (std::int64_t c = split16(n, id, threads); c < n1; c += kBlock) {
      const std::int64_t m = std::min(kBlock, n1 - c);
      float* dst = out.residual ? v : out.y + c;
      kern.dot_rows(x, wp, t, k, c, m, dst);
      finish(dst, c, m, out);
    }
  }
}

}  // namespace

void matvec(const float* x, TensorView w, WeightLayout layout, const MatvecOut& out, Scratch scratch) {
  const bool kn = layout == WeightLayout::KN;
  const std::int64_t k = kn ? w.dim(0) : w.dim(1);
  const std::int64_t n = kn ? w.dim(1) : w.dim(0);
  if (n == 0) return;
  const Kernels& kern = cpu_kernels();
  const WType t = wtype(w.dtype);
  const bool parallel = k * n >= kParallelMin;
  if (!kn) return matvec_nk(kern, x, w.data, t, k, n, out, parallel);
  const std::int64_t threads = parallel ? omp_get_max_threads() : 1;
  if (static_cast<std::size_t>(threads * n) > scratch.floats)
    throw InternalError("linear: the KN matrix-vector product needs " + std::to_string(threads) + " x " +
                        std::to_string(n) + " floats of scratch, the CPU stream has " + std::to_string(scratch.floats));
  matvec_kn(kern, x, static_cast<const std::byte*>(w.data), t, dtype_size(w.dtype), k, n, out, scratch.data, parallel);
}

void matvec_swiglu(const float* x, TensorView w, float* out) {
  const std::int64_t f = w.dim(0) / 2;
  const std::int64_t k = w.dim(1);
  if (f == 0) return;
  const Kernels& kern = cpu_kernels();
  const WType t = wtype(w.dtype);
#pragma omp parallel if (2 * f * k >= kParallelMin)
  {
    const std::int64_t threads = omp_get_num_threads();
    const std::int64_t id = omp_get_thread_num();
    const std::int64_t f1 = split16(f, id + 1, threads);
    float g[kBlock], u[kBlock];
    for (std::int64_t c = split16(f, id, threads); c < f1; c += kBlock) {
      const std::int64_t m = std::min(kBlock, f1 - c);
      kern.dot_rows(x, w.data, t, k, c, m, g);
      kern.dot_rows(x, w.data, t, k, f + c, m, u);
      kern.silu_mul(g, u, m, out + c);  // as ops/swiglu/swiglu_cpu.cpp rounds it
    }
  }
}

}  // namespace ferry::ops::cpu::detail
