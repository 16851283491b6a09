// CUDA launchers: enqueue the kernels on `stream` (a cudaStream_t) and return. Built only with
// CUDA (FERRY_HAVE_CUDA). Weights may be f32, f16 or bf16; accumulation is fp32.
// Same operands and semantics as the entry points in ops/ops.h (read the contracts there).
#pragma once
#include "ops/ops.h"

namespace ferry::ops::cuda {

void embedding(void* stream, TensorView ids, TensorView pos, TensorView wte, TensorView wpe, TensorView out);
void add_layernorm(void* stream, TensorView residual, TensorView delta, TensorView gamma, TensorView beta, float eps, TensorView out);
void linear(void* stream, TensorView x, TensorView w, WeightLayout layout, TensorView bias, Activation act, TensorView out);
void activation(void* stream, TensorView x, Activation act);
void add(void* stream, TensorView x, TensorView y);
void logits(void* stream, TensorView x, TensorView wte, TensorView out);
void attention_prefill(void* stream, TensorView qkv, TensorView offsets, int n_heads, TensorView out);
void attention_prefill_unfused(void* stream, TensorView qkv, TensorView offsets, int n_heads, TensorView scores, TensorView out);
void attention_prefill_unfused(void* stream, TensorView qkv, TensorView offsets, TensorView key_len, const AttentionShape& a, TensorView scores, TensorView out);
void kv_append(void* stream, TensorView qkv, TensorView seq, TensorView pos, TensorView k_cache, TensorView v_cache);
void attention_decode(void* stream, TensorView qkv, TensorView k_cache, TensorView v_cache, TensorView seq, TensorView len, int n_heads, TensorView out);
void add_rmsnorm(void* stream, TensorView residual, TensorView delta, float delta_scale, TensorView gamma, float eps, TensorView out);
void swiglu(void* stream, TensorView gate_up, TensorView out);
void scale(void* stream, TensorView x, float factor);
void embedding_lookup(void* stream, TensorView ids, TensorView wte, float scale, TensorView out);
void rope(void* stream, TensorView qkv, TensorView pos, const AttentionShape& a, const RopeParams& p);
void attention_prefill(void* stream, TensorView qkv, TensorView offsets, const AttentionShape& a, TensorView out);
void kv_append(void* stream, TensorView qkv, TensorView seq, TensorView pos, TensorView k_cache, TensorView v_cache, const AttentionShape& a);
void attention_decode(void* stream, TensorView qkv, TensorView k_cache, TensorView v_cache, TensorView seq, TensorView len, const AttentionShape& a, TensorView out);
void sample(void* stream, TensorView logits, const SamplingParams& p, TensorView seq, TensorView step, TensorView out_ids);

}  // namespace ferry::ops::cuda
