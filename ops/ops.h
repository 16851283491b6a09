// Op entry points. Each op enqueues its work on a stream and returns at once; the stream's device
// picks the implementation: ops/<op>/<op>_cpu.cpp (ferry::ops::cpu) or <op>_cuda.cu
// (ferry::ops::cuda). Both are checked against the scalar reference in ops/reference.h
// (tests/ops/conformance_test.cpp). Ops never allocate: callers pass every output and workspace.
//
// dtypes: activations (x, residual, out, logits) are f32; weights (matrices, gains, biases, the
// embedding tables) are f32, f16 or bf16 on both backends, read in their stored type and widened
// inside the kernels (fp32 accumulation). Index tensors are i32.
// Memory: every pointer must be addressable by the stream's device (host memory for the CPU).
#pragma once
#include <cstdint>

#include "base/backend.h"
#include "base/tensor.h"

namespace ferry::ops {

enum class Activation : std::uint8_t { None, GeluTanh, GeluErf, Tanh };
const char* activation_name(Activation a);  // "none", "gelu_tanh", "gelu", "tanh"

// How a weight matrix is stored.
//   KN: w[K, N], y = x w      (Hugging Face GPT-2 Conv1D layout)
//   NK: w[N, K], y = x w^T    (nn.Linear layout; the tied LM head reads wte[V, H] this way)
enum class WeightLayout : std::uint8_t { KN, NK };

// out[t, :] = wte[ids[t], :] + wpe[pos[t], :]
// ids[T] i32, pos[T] i32, wte[V, H], wpe[C, H], out[T, H]
void embedding(Stream& s, TensorView ids, TensorView pos, TensorView wte, TensorView wpe, TensorView out);

// Fused residual add + LayerNorm:
//   if delta present: residual[t, :] += delta[t, :]
//   out[t, :] = (residual[t, :] - mean) / sqrt(var + eps) * gamma + beta   (biased variance)
// residual[T, H] (in/out), delta[T, H] (optional: data may be null), gamma[H], beta[H], out[T, H]
void add_layernorm(Stream& s, TensorView residual, TensorView delta, TensorView gamma, TensorView beta,
                   float eps, TensorView out);

// out[T, N] = act(x[T, K] · W + bias[N]); bias optional. Bias and activation are fused epilogues.
void linear(Stream& s, TensorView x, TensorView w, WeightLayout layout, TensorView bias, Activation act,
            TensorView out);

// The residual epilogue: residual[T, N] += scale * (x[T, K] · W + bias[N]), the block's output
// projection added into the residual stream (GPT-2's two projections with scale 1, LLaMA's with
// the Granite residual multiplier), so the next norm takes no delta. tmp[T, N] is the caller's
// workspace, contents afterwards unspecified. CPU, one row: fused into the matrix-vector
// epilogue, tmp untouched. Otherwise (CPU rows > 1, CUDA): tmp = x · W + bias, then tmp *= scale
// (when scale != 1) and residual += tmp, rounded as add_rmsnorm's delta add. CPU and CUDA.
void linear_residual(Stream& s, TensorView x, TensorView w, WeightLayout layout, TensorView bias, float scale,
                     TensorView tmp, TensorView residual);

// The SwiGLU epilogue: out[T, F] = silu(x · Wg) * (x · Wu) for w = gate_up[2F, K] (NK: the gate's F
// rows, then the up's), LLaMA's MLP input projection and swiglu in one op. gate_up[T, 2F] is the
// caller's workspace. CPU, one row: each thread computes its gate and up rows and writes out
// directly (gate_up untouched). Otherwise (CPU rows > 1, CUDA): linear into gate_up, then swiglu.
// CPU and CUDA.
void linear_swiglu(Stream& s, TensorView x, TensorView w, TensorView gate_up, TensorView out);

// x = act(x), elementwise, in place (the unfused variant; x any shape, f32).
void activation(Stream& s, TensorView x, Activation act);

// x += y, elementwise, in place: the residual add without the LayerNorm that add_layernorm fuses
// into it (the unfused comparison path of `ferry bench fusion`). x and y f32 of one shape (any rank).
void add(Stream& s, TensorView x, TensorView y);

// logits[T, V] = x[T, H] · wte[V, H]^T  (the tied LM head; also used with an untied lm_head[V, H])
void logits(Stream& s, TensorView x, TensorView wte, TensorView out);

// Causal self-attention over nested sequences, flash-style (online softmax, no [T, T] matrix).
// qkv[T, 3H]: each row is [q (H) | k (H) | v (H)], head h owns columns [h*D, (h+1)*D), D = H/n_heads.
// offsets[B+1] i32 (host memory on the CPU, device memory on CUDA): sequence b is rows
// [offsets[b], offsets[b+1]); a row attends to the rows of its own sequence up to itself.
// Scale 1/sqrt(D). out[T, H].
void attention_prefill(Stream& s, TensorView qkv, TensorView offsets, int n_heads, TensorView out);

// The same causal attention as attention_prefill, unfused: per sequence, the whole score matrix is
// materialised (S = Q K^T / sqrt(D), masked above the diagonal), softmaxed row by row in place and
// multiplied by V, in three passes. The comparison path of `ferry bench fusion`; the model never
// uses it. qkv[T, 3H], offsets[B+1] i32 (as in attention_prefill), out[T, H].
// scores[n_heads, max_len, max_len] f32: caller-provided workspace, reused sequence after sequence,
// its contents afterwards unspecified; max_len must be >= the longest sequence (CPU: InternalError
// otherwise; CUDA, which cannot read offsets on the host: that sequence's rows become NaN).
void attention_prefill_unfused(Stream& s, TensorView qkv, TensorView offsets, int n_heads, TensorView scores,
                               TensorView out);

// Writes each row's k and v into the per-sequence caches:
//   k_cache[seq[t], pos[t], :] = qkv[t, H:2H],  v_cache[seq[t], pos[t], :] = qkv[t, 2H:3H]
// qkv[T, 3H], seq[T] i32, pos[T] i32, k_cache[S, cap, H], v_cache[S, cap, H]
void kv_append(Stream& s, TensorView qkv, TensorView seq, TensorView pos, TensorView k_cache, TensorView v_cache);

// Decode attention: row b (query = qkv[b, 0:H]) attends to k_cache/v_cache[seq[b], 0:len[b], :].
// qkv[B, 3H], k_cache[S, cap, H], v_cache[S, cap, H], seq[B] i32, len[B] i32, out[B, H].
void attention_decode(Stream& s, TensorView qkv, TensorView k_cache, TensorView v_cache, TensorView seq,
                      TensorView len, int n_heads, TensorView out);

// ---- LLaMA family -------------------------------------------------------------------------------

// Fused residual add + RMSNorm (Zhang & Sennrich 2019), computed in fp32 as LLaMA does:
//   if delta present: residual[t, :] += delta_scale * delta[t, :]   (in place)
//   out[t, :] = residual[t, :] * rsqrt(mean(residual[t, :]^2) + eps) * gamma
// residual[T, H] (in/out), delta[T, H] (optional: data may be null), gamma[H], out[T, H].
// CPU and CUDA (ops/rmsnorm/); the add is rounded alike on both (no fused multiply-add).
void add_rmsnorm(Stream& s, TensorView residual, TensorView delta, float delta_scale, TensorView gamma, float eps,
                 TensorView out);

// out[T, F] = silu(gate_up[:, 0:F]) * gate_up[:, F:2F], silu(x) = x / (1 + exp(-x)). gate_up[T, 2F].
// CPU and CUDA.
void swiglu(Stream& s, TensorView gate_up, TensorView out);

// x *= factor, elementwise, in place (x f32, any rank >= 1). CPU and CUDA.
void scale(Stream& s, TensorView x, float factor);

// out[t, :] = wte[ids[t], :] * scale (no position table; scale 1 copies exactly).
// ids[T] i32, wte[V, H], out[T, H]. An id outside [0, V) is an InternalError on the CPU; on CUDA,
// which cannot report it, that row becomes NaN (as embedding). CPU and CUDA.
void embedding_lookup(Stream& s, TensorView ids, TensorView wte, float scale, TensorView out);

// Grouped-query attention geometry. Query head h reads KV head h / (n_heads / n_kv_heads);
// n_heads % n_kv_heads == 0. qkv rows are [q (n_heads*D) | k (n_kv_heads*D) | v (n_kv_heads*D)].
// scale is the softmax scale (1/sqrt(head_dim) for LLaMA; Granite uses its own).
struct AttentionShape {
  int n_heads;
  int n_kv_heads;
  int head_dim;
  float scale;
  bool causal = true;
};

// Rotary position embedding parameters (Hugging Face's rotate-half convention).
//   scaling: 0 none, 1 linear (inv_freq /= factor), 2 llama3 (transformers' _compute_llama3_parameters).
struct RopeParams {
  float theta = 10000.0f;
  int rotary_dim = 0;  // 0 = head_dim; otherwise the first rotary_dim columns of each head rotate
  int scaling = 0;
  float factor = 1.0f;
  float low_freq_factor = 1.0f;
  float high_freq_factor = 4.0f;
  int original_context = 8192;
};

// In place on the q heads and the k heads of each row of qkv[T, (n_heads + 2 n_kv_heads) D] at
// position pos[t] (i32 [T]). With R = rotary_dim, for i in [0, R/2): inv_freq_i = theta^(-2i/R)
// (then scaled), angle = f32(pos) * inv_freq_i in f32 as PyTorch does, x1 = x[i], x2 = x[i + R/2]:
//   x[i] = x1 cos - x2 sin,  x[i + R/2] = x2 cos + x1 sin.
// No frequency buffer: the CPU computes them inside the kernel; CUDA computes them on the host with
// the same f32 code (ops/rope/rope_freq.h) and passes them by value as a kernel parameter, so the
// angles are bit-identical across backends. CUDA: rotary_dim <= 512. CPU and CUDA.
void rope(Stream& s, TensorView qkv, TensorView pos, const AttentionShape& a, const RopeParams& p);

// Grouped-query overloads of the attention ops (LLaMA, Mistral, Granite). Shapes with
// W = (n_heads + 2 n_kv_heads) * head_dim:
//   attention_prefill: qkv[T, W], offsets[B+1] as above, out[T, n_heads*head_dim]
//   kv_append:         k_cache/v_cache[S, cap, n_kv_heads*head_dim]
//   attention_decode:  qkv[B, W], caches as kv_append, out[B, n_heads*head_dim]
// Softmax scale a.scale. n_heads % n_kv_heads != 0 is BadInput. The GPT-2 signatures above forward
// here with n_kv_heads = n_heads, head_dim = H / n_heads, scale = 1/sqrt(head_dim) (f32), so their
// results are unchanged. CPU and CUDA (CUDA: head_dim <= 128; as for the GPT-2 signatures, decode
// clamps len to [0, cap] and kv_append skips rows with seq or pos out of range instead of throwing).
void attention_prefill(Stream& s, TensorView qkv, TensorView offsets, const AttentionShape& a, TensorView out);
void kv_append(Stream& s, TensorView qkv, TensorView seq, TensorView pos, TensorView k_cache, TensorView v_cache,
               const AttentionShape& a);
void attention_decode(Stream& s, TensorView qkv, TensorView k_cache, TensorView v_cache, TensorView seq,
                      TensorView len, const AttentionShape& a, TensorView out);
void attention_prefill_unfused(Stream& s, TensorView qkv, TensorView offsets, TensorView key_len,
                               const AttentionShape& a, TensorView scores, TensorView out);

struct SamplingParams {
  bool greedy = true;        // argmax (lowest index wins ties); ignores the rest
  float temperature = 1.0f;  // > 0
  int top_k = 0;             // 0 = off
  float top_p = 1.0f;        // (0, 1]; 1 = off
  std::uint64_t seed = 0;
};

// One token per row of logits[B, V]. The random draw for row b depends only on
// (seed, seq[b], step[b]), so results do not depend on batch composition or backend.
// seq[B] i32 (sequence ids), step[B] i32 (generation step), out_ids[B] i32.
// Order: temperature scaling -> top-k filter -> softmax -> top-p (nucleus) filter -> draw.
void sample(Stream& s, TensorView logits, const SamplingParams& p, TensorView seq, TensorView step,
            TensorView out_ids);

// The uniform [0, 1) draw used by sample() (counter-based, splitmix64 of seed, seq and step).
double sample_uniform(std::uint64_t seed, std::int32_t seq, std::int32_t step);

}  // namespace ferry::ops
