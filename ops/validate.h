// Operand checks shared by the op entry points (ops/dispatch.cpp), the CPU implementations and the
// references. A mismatch is a programming error, not user input: each check throws InternalError
// naming the op and listing every operand's shape and dtype.
//
// Weight operands (matrices, embedding tables, gamma/beta, bias) may be f32/f16/bf16 on CUDA and
// must be f32 on the CPU; activations and KV caches are f32; index tensors are i32.
// Operands and their shapes are those of the entry points in ops/ops.h (e.g. qkv [T, 3H]).
#pragma once
#include "base/tensor.h"
#include "ops/ops.h"

namespace ferry::ops::check {

// Whether `t` is an accepted storage type for weights on device `dev`.
bool weight_dtype_ok(DeviceKind dev, DType t);

void embedding(DeviceKind dev, const TensorView& ids, const TensorView& pos, const TensorView& wte,
               const TensorView& wpe, const TensorView& out);
void add_layernorm(DeviceKind dev, const TensorView& residual, const TensorView& delta, const TensorView& gamma,
                   const TensorView& beta, float eps, const TensorView& out);
void linear(DeviceKind dev, const TensorView& x, const TensorView& w, WeightLayout layout, const TensorView& bias,
            const TensorView& out);
void activation(DeviceKind dev, const TensorView& x);
void add(DeviceKind dev, const TensorView& x, const TensorView& y);
void linear_residual(DeviceKind dev, const TensorView& x, const TensorView& w, WeightLayout layout,
                     const TensorView& bias, const TensorView& tmp, const TensorView& residual);
void linear_swiglu(DeviceKind dev, const TensorView& x, const TensorView& w, const TensorView& gate_up,
                   const TensorView& out);
void logits(DeviceKind dev, const TensorView& x, const TensorView& wte, const TensorView& out);
void attention_prefill(DeviceKind dev, const TensorView& qkv, const TensorView& offsets, int n_heads,
                       const TensorView& out);
void attention_prefill_unfused(DeviceKind dev, const TensorView& qkv, const TensorView& offsets, int n_heads,
                               const TensorView& scores, const TensorView& out);
// The masked overload: n_kv_heads == n_heads, key_len [B] i32 when present.
void attention_prefill_unfused(DeviceKind dev, const TensorView& qkv, const TensorView& offsets, const TensorView& key_len,
                               const AttentionShape& a, const TensorView& scores, const TensorView& out);
void kv_append(DeviceKind dev, const TensorView& qkv, const TensorView& seq, const TensorView& pos,
               const TensorView& k_cache, const TensorView& v_cache);
void attention_decode(DeviceKind dev, const TensorView& qkv, const TensorView& k_cache, const TensorView& v_cache,
                      const TensorView& seq, const TensorView& len, int n_heads, const TensorView& out);
void add_rmsnorm(DeviceKind dev, const TensorView& residual, const TensorView& delta, const TensorView& gamma, float eps,
                 const TensorView& out);
void swiglu(DeviceKind dev, const TensorView& gate_up, const TensorView& out);
void scale(DeviceKind dev, const TensorView& x);
void embedding_lookup(DeviceKind dev, const TensorView& ids, const TensorView& wte, const TensorView& out);
void rope(DeviceKind dev, const TensorView& qkv, const TensorView& pos, const AttentionShape& a, const RopeParams& p);
// GQA attention operands (ops/ops.h); n_heads % n_kv_heads != 0 throws BadInput.
void attention_gqa(const char* op, const TensorView& qkv, const AttentionShape& a);
void sample(DeviceKind dev, const TensorView& logits, const SamplingParams& p, const TensorView& seq,
            const TensorView& step, const TensorView& out_ids);

}  // namespace ferry::ops::check
