// CPU implementations: synchronous, run on the calling thread (the entry points enqueue them
// on a CpuStream). f32 activations; weights f32, f16 or bf16 (read through ops/cpu_isa/).
// Same operands and semantics as the entry points in ops/ops.h (read the contracts there).
#pragma once
#include <cstddef>

#include "ops/ops.h"

namespace ferry::ops::cpu {

// Workspace of the ops that need one (ops never allocate): the CpuStream's scratch
// (base/cpu_backend.h), owned by the stream the op runs on.
struct Scratch {
  float* data = nullptr;
  std::size_t floats = 0;
};

void embedding(TensorView ids, TensorView pos, TensorView wte, TensorView wpe, TensorView out);
void add_layernorm(TensorView residual, TensorView delta, TensorView gamma, TensorView beta, float eps, TensorView out,
                   Scratch scratch);
void linear(TensorView x, TensorView w, WeightLayout layout, TensorView bias, Activation act, TensorView out,
            Scratch scratch);
void linear_residual(TensorView x, TensorView w, WeightLayout layout, TensorView bias, float scale, TensorView tmp,
                     TensorView residual, Scratch scratch);
void linear_swiglu(TensorView x, TensorView w, TensorView gate_up, TensorView out, Scratch scratch);
void activation(TensorView x, Activation act);
void add(TensorView x, TensorView y);
void logits(TensorView x, TensorView wte, TensorView out, Scratch scratch);
void attention_prefill(TensorView qkv, TensorView offsets, int n_heads, TensorView out);
void attention_prefill_unfused(TensorView qkv, TensorView offsets, int n_heads, TensorView scores, TensorView out);
void attention_prefill_unfused(TensorView qkv, TensorView offsets, TensorView key_len, const AttentionShape& a, TensorView scores, TensorView out);
void kv_append(TensorView qkv, TensorView seq, TensorView pos, TensorView k_cache, TensorView v_cache);
void attention_decode(TensorView qkv, TensorView k_cache, TensorView v_cache, TensorView seq, TensorView len, int n_heads, TensorView out);
void add_rmsnorm(TensorView residual, TensorView delta, float delta_scale, TensorView gamma, float eps, TensorView out,
                 Scratch scratch);
void swiglu(TensorView gate_up, TensorView out);
void scale(TensorView x, float factor);
void embedding_lookup(TensorView ids, TensorView wte, float scale, TensorView out);
void rope(TensorView qkv, TensorView pos, const AttentionShape& a, const RopeParams& p);
void attention_prefill(TensorView qkv, TensorView offsets, const AttentionShape& a, TensorView out);
void kv_append(TensorView qkv, TensorView seq, TensorView pos, TensorView k_cache, TensorView v_cache, const AttentionShape& a);
void attention_decode(TensorView qkv, TensorView k_cache, TensorView v_cache, TensorView seq, TensorView len, const AttentionShape& a, TensorView out);
void sample(TensorView logits, const SamplingParams& p, TensorView seq, TensorView step, TensorView out_ids);

}  // namespace ferry::ops::cpu
