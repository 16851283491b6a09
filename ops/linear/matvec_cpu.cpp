// The matrix-vector product of decode (one row of activations against a weight matrix): memory
// bound, so its job is to keep every core reading weights at the memory's bandwidth. Each thread
// owns a contiguous share of the output columns (a multiple of 16, so vector loads stay whole), runs
// the ISA kernel on it in blocks that keep its outputs in L1, and applies the bias/activation
// epilogue to each block while it is hot. NK weights (rows of K) are dot products, four rows (four
// read streams) at a time; KN weights (GPT-2) are row-by-row accumulations into the block.
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

// GELU (Hendrycks, Gimpel, "Gaussian Error Linear Units", 2016): exact erf form and its tanh
// approximation (the one GPT-2 uses).
inline float gelu_tanh(float x) {
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * (x + 0.044715f * x * x * x)));
}
inline float gelu_erf(float x) {
  constexpr float kInvSqrt2 = 0.7071067811865476f;
  return 0.5f * x * (1.0f + std::erf(x * kInvSqrt2));
}

constexpr std::int64_t kBlock = 1024;  // outputs per kernel call: 4 KiB of f32, in L1

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
  if (bias.present()) {
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
      for (std::int64_t i = 0; i < n; ++i) y[i] = gelu_tanh(y[i]);
      return;
    case Activation::GeluErf:
      for (std::int64_t i = 0; i < n; ++i) y[i] = gelu_erf(y[i]);
      return;
  }
}

void matvec(const float* x, TensorView w, WeightLayout layout, TensorView bias, Activation act, float* y) {
  const bool kn = layout == WeightLayout::KN;
  const std::int64_t k = kn ? w.dim(0) : w.dim(1);
  const std::int64_t n = kn ? w.dim(1) : w.dim(0);
  if (n == 0) return;
  const Kernels& kern = cpu_kernels();
  const WType t = wtype(w.dtype);
  const void* wp = w.data;
#pragma omp parallel if (k * n >= kParallelMin)
  {
    const std::int64_t threads = omp_get_num_threads();
    const std::int64_t id = omp_get_thread_num();
    const auto split = [&](std::int64_t i) { return std::min(n, (n * i / threads + 15) / 16 * 16); };
    const std::int64_t n0 = split(id), n1 = id + 1 == threads ? n : split(id + 1);
    for (std::int64_t c = n0; c < n1; c += kBlock) {
      const std::int64_t m = std::min(kBlock, n1 - c);
      if (kn) {
        std::memset(y + c, 0, static_cast<std::size_t>(m) * sizeof(float));
        kern.axpy_rows(x, wp, t, k, n, c, m, y + c);
      } else {
        kern.dot_rows(x, wp, t, k, c, m, y + c);
      }
      epilogue(y + c, c, m, bias, act);
    }
  }
}

}  // namespace ferry::ops::cpu::detail
