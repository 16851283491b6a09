// Shared pieces of the CPU linear and logits (ops/linear/linear_cpu.cpp, matvec_cpu.cpp).
#pragma once
#include <cstdint>

#include "ops/cpu.h"
#include "ops/cpu_isa/kernels.h"
#include "ops/ops.h"

namespace ferry::ops::cpu::detail {

WType wtype(DType t);  // InternalError for a non-weight dtype

// y[0:n) = act(y + bias[n0 : n0 + n)) (bias may be absent): the epilogue fused into the products.
void epilogue(float* y, std::int64_t n0, std::int64_t n, TensorView bias, Activation act);

// What a matrix-vector product does with each output v = x · W[:, n] + bias[n]:
//   store:    y[n] = act(v)
//   residual: y[n] += scale * v   (act must be None; the residual epilogue of linear_residual)
struct MatvecOut {
  float* y = nullptr;
  TensorView bias;
  Activation act = Activation::None;
  bool residual = false;
  float scale = 1.0f;
};

// One row through the ISA kernels on every thread (ops/linear/matvec_cpu.cpp). W f32, f16 or bf16
// in either layout; KN uses threads x N floats of the scratch.
void matvec(const float* x, TensorView w, WeightLayout layout, const MatvecOut& out, Scratch scratch);
inline void matvec(const float* x, TensorView w, WeightLayout layout, TensorView bias, Activation act, float* y,
                   Scratch scratch) {
  matvec(x, w, layout, MatvecOut{y, bias, act, false, 1.0f}, scratch);
}

// out[F] = silu(x · Wg) * (x · Wu), w = gate_up[2F, K] NK: each thread its band of f, its gate and
// up rows read side by side, nothing stored between.
void matvec_swiglu(const float* x, TensorView w, float* out);

}  // namespace ferry::ops::cpu::detail
