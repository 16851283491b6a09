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

// y[N] = act(x[K] · W + bias): one row through the ISA kernels on every thread
// (ops/linear/matvec_cpu.cpp). W f32, f16 or bf16 in either layout; KN uses threads x N floats of
// the scratch.
void matvec(const float* x, TensorView w, WeightLayout layout, TensorView bias, Activation act, float* y,
            Scratch scratch);

}  // namespace ferry::ops::cpu::detail
