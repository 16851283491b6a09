// Op entry points (ops/ops.h): check the operands on the calling thread, then hand the work to the
// stream's device. CPU: a task on the CpuStream (operands captured by value). CUDA: the launcher in
// ops/cuda.h, which enqueues kernels on the cudaStream_t.

#include <chrono>
#include <type_traits>
#include <utility>

#include "base/cpu_backend.h"
#include "base/error.h"
#include "ops/cpu.h"
#include "ops/ops.h"
#include "ops/profile.h"
#include "ops/validate.h"
#ifdef FERRY_HAVE_CUDA
#include "ops/cuda.h"
#define FERRY_OPS_CUDA_CALL(op, ...) ::ferry::ops::cuda::op(s.native_handle(), __VA_ARGS__)
#else
#define FERRY_OPS_CUDA_CALL(op, ...) throw InternalError(#op ": built without CUDA")
#endif

namespace ferry::ops {
namespace {

// Queues `body` on the stream's thread, timed there while profiling is on (ops/profile.h).
template <class Body>
void enqueue_timed(CpuStream& cs, const char* op, Body&& body) {
  cs.enqueue([op, body = std::forward<Body>(body)] {
    if (!cpu_op_profiling()) return body();
    const auto t0 = std::chrono::steady_clock::now();
    body();
    record_cpu_op(op, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  });
}

// Queues a CPU op on its stream. An op that needs a workspace takes the stream's scratch as its
// argument (CpuStream::scratch()).
template <class F>
void enqueue_cpu(Stream& s, const char* op, F&& fn) {
  CpuStream& cs = cpu_stream(s, op);
  if constexpr (std::is_invocable_v<const F&, cpu::Scratch>) {
    const cpu::Scratch sc{cs.scratch(), CpuStream::kScratchFloats};
    enqueue_timed(cs, op, [sc, fn = std::forward<F>(fn)] { fn(sc); });
  } else {
    enqueue_timed(cs, op, std::forward<F>(fn));
  }
}

}  // namespace

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::None:
      return "none";
    case Activation::GeluTanh:
      return "gelu_tanh";
    case Activation::GeluErf:
      return "gelu";
    case Activation::Tanh:
      return "tanh";
  }
  return "unknown";
}

void embedding(Stream& s, TensorView ids, TensorView pos, TensorView wte, TensorView wpe, TensorView out) {
  check::embedding(s.device(), ids, pos, wte, wpe, out);
  if (s.device() == DeviceKind::CPU) {
    enqueue_cpu(s, "embedding", [=] { cpu::embedding(ids, pos, wte, wpe, out); });
    return;
  }
  FERRY_OPS_CUDA_CALL(embedding, ids, pos, wte, wpe, out);
}

void add_layernorm(Stream& s, TensorView residual, TensorView delta, TensorView gamma, TensorView beta,
                   float eps, TensorView out) {
  check::add_layernorm(s.device(), residual, delta, gamma, beta, eps, out);
  if (s.device() == DeviceKind::CPU) {
    enqueue_cpu(s, "add_layernorm", [=](cpu::Scratch sc) { cpu::add_layernorm(residual, delta, gamma, beta, eps, out, sc); });
    return;
  }
  FERRY_OPS_CUDA_CALL(add_layernorm, residual, delta, gamma, beta, eps, out);
}

void linear(Stream& s, TensorView x, TensorView w, WeightLayout layout, TensorView bias, Activation act,
            TensorView out) {
  check::linear(s.device(), x, w, layout, bias, out);
  if (s.device() == DeviceKind::CPU) {
    enqueue_cpu(s, "linear", [=](cpu::Scratch sc) { cpu::linear(x, w, layout, bias, act, out, sc); });
    return;
  }
  FERRY_OPS_CUDA_CALL(linear, x, w, layout, bias, act, out);
}

void linear_residual(Stream& s, TensorView x, TensorView w, WeightLayout layout, TensorView bias, float scale,
                     TensorView tmp, TensorView residual) {
  check::linear_residual(s.device(), x, w, layout, bias, tmp, residual);
  if (s.device() == DeviceKind::CPU) {
    enqueue_cpu(s, "linear_residual", [=](cpu::Scratch sc) { cpu::linear_residual(x, w, layout, bias, scale, tmp, residual, sc); });
    return;
  }
  // CUDA: the product, then the scaled add, as the contract above says.
  FERRY_OPS_CUDA_CALL(linear, x, w, layout, bias, Activation::None, tmp);
  if (scale != 1.0f) FERRY_OPS_CUDA_CALL(scale, tmp, scale);
  FERRY_OPS_CUDA_CALL(add, residual, tmp);
}

void linear_swiglu(Stream& s, TensorView x, TensorView w, TensorView gate_up, TensorView out) {
  check::linear_swiglu(s.device(), x, w, gate_up, out);
  if (s.device() == DeviceKind::CPU) {
    enqueue_cpu(s, "linear_swiglu", [=](cpu::Scratch sc) { cpu::linear_swiglu(x, w, gate_up, out, sc); });
    return;
  }
  FERRY_OPS_CUDA_CALL(linear, x, w, WeightLayout::NK, TensorView{}, Activation::None, gate_up);
  FERRY_OPS_CUDA_CALL(swiglu, gate_up, out);
}

void activation(Stream& s, TensorView x, Activation act) {
  check::activation(s.device(), x);
  if (s.device() == DeviceKind::CPU) {
    enqueue_cpu(s, "activation", [=] { cpu::activation(x, act); });
    return;
  }
  FERRY_OPS_CUDA_CALL(activation, x, act);
}

void add(Stream& s, TensorView x, TensorView y) {
  check::add(s.device(), x, y);
  if (s.device() == DeviceKind::CPU) {
    enqueue_cpu(s, "add", [=] { cpu::add(x, y); });
    return;
  }
  FERRY_OPS_CUDA_CALL(add, x, y);
}

void logits(Stream& s, TensorView x, TensorView wte, TensorView out) {
  check::logits(s.device(), x, wte, out);
  if (s.device() == DeviceKind::CPU) {
    enqueue_cpu(s, "logits", [=](cpu::Scratch sc) { cpu::logits(x, wte, out, sc); });
    return;
  }
  FERRY_OPS_CUDA_CALL(logits, x, wte, out);
}

void attention_prefill(Stream& s, TensorView qkv, TensorView offsets, int n_heads, TensorView out) {
  check::attention_prefill(s.device(), qkv, offsets, n_heads, out);
  if (s.device() == DeviceKind::CPU) {
    enqueue_cpu(s, "attention_prefill", [=] { cpu::attention_prefill(qkv, offsets, n_heads, out); });
    return;
  }
  FERRY_OPS_CUDA_CALL(attention_prefill, qkv, offsets, n_heads, out);
}

void attention_prefill_unfused(Stream& s, TensorView qkv, TensorView offsets, int n_heads, TensorView scores,
                               TensorView out) {
  check::attention_prefill_unfused(s.device(), qkv, offsets, n_heads, scores, out);
  if (s.device() == DeviceKind::CPU) {
    enqueue_cpu(s, "attention_prefill_unfused", [=] {
      cpu::attention_prefill_unfused(qkv, offsets, n_heads, scores, out);
    });
    return;
  }
  FERRY_OPS_CUDA_CALL(attention_prefill_unfused, qkv, offsets, n_heads, scores, out);
}

void attention_prefill_unfused(Stream& s, TensorView qkv, TensorView offsets, TensorView key_len,
                               const AttentionShape& a, TensorView scores, TensorView out) {
  check::attention_prefill_unfused(s.device(), qkv, offsets, key_len, a, scores, out);
  if (s.device() == DeviceKind::CPU) {
    enqueue_cpu(s, "attention_prefill_unfused", [=] {
      cpu::attention_prefill_unfused(qkv, offsets, key_len, a, scores, out);
    });
    return;
  }
  FERRY_OPS_CUDA_CALL(attention_prefill_unfused, qkv, offsets, key_len, a, scores, out);
}

void kv_append(Stream& s, TensorView qkv, TensorView seq, TensorView pos, TensorView k_cache, TensorView v_cache) {
  check::kv_append(s.device(), qkv, seq, pos, k_cache, v_cache);
  if (s.device() == DeviceKind::CPU) {
    enqueue_cpu(s, "kv_append", [=] { cpu::kv_append(qkv, seq, pos, k_cache, v_cache); });
    return;
  }
  FERRY_OPS_CUDA_CALL(kv_append, qkv, seq, pos, k_cache, v_cache);
}

void attention_decode(Stream& s, TensorView qkv, TensorView k_cache, TensorView v_cache, TensorView seq,
                      TensorView len, int n_heads, TensorView out) {
  check::attention_decode(s.device(), qkv, k_cache, v_cache, seq, len, n_heads, out);
  if (s.device() == DeviceKind::CPU) {
    enqueue_cpu(s, "attention_decode", [=] {
      cpu::attention_decode(qkv, k_cache, v_cache, seq, len, n_heads, out);
    });
    return;
  }
  FERRY_OPS_CUDA_CALL(attention_decode, qkv, k_cache, v_cache, seq, len, n_heads, out);
}

void sample(Stream& s, TensorView logits, const SamplingParams& p, TensorView seq, TensorView step,
            TensorView out_ids) {
  check::sample(s.device(), logits, p, seq, step, out_ids);
  if (s.device() == DeviceKind::CPU) {
    enqueue_cpu(s, "sample", [=, params = p] { cpu::sample(logits, params, seq, step, out_ids); });
    return;
  }
  FERRY_OPS_CUDA_CALL(sample, logits, p, seq, step, out_ids);
}

// ---- LLaMA family ---------------------------------------------------------------------------------

void add_rmsnorm(Stream& s, TensorView residual, TensorView delta, float delta_scale, TensorView gamma, float eps,
                 TensorView out) {
  check::add_rmsnorm(s.device(), residual, delta, gamma, eps, out);
  if (s.device() == DeviceKind::CPU) {
    enqueue_cpu(s, "add_rmsnorm", [=](cpu::Scratch sc) { cpu::add_rmsnorm(residual, delta, delta_scale, gamma, eps, out, sc); });
    return;
  }
  FERRY_OPS_CUDA_CALL(add_rmsnorm, residual, delta, delta_scale, gamma, eps, out);
}

void swiglu(Stream& s, TensorView gate_up, TensorView out) {
  check::swiglu(s.device(), gate_up, out);
  if (s.device() == DeviceKind::CPU) {
    enqueue_cpu(s, "swiglu", [=] { cpu::swiglu(gate_up, out); });
    return;
  }
  FERRY_OPS_CUDA_CALL(swiglu, gate_up, out);
}

void scale(Stream& s, TensorView x, float factor) {
  check::scale(s.device(), x);
  if (s.device() == DeviceKind::CPU) {
    enqueue_cpu(s, "scale", [=] { cpu::scale(x, factor); });
    return;
  }
  FERRY_OPS_CUDA_CALL(scale, x, factor);
}

void embedding_lookup(Stream& s, TensorView ids, TensorView wte, float scale, TensorView out) {
  check::embedding_lookup(s.device(), ids, wte, out);
  if (s.device() == DeviceKind::CPU) {
    enqueue_cpu(s, "embedding_lookup", [=] { cpu::embedding_lookup(ids, wte, scale, out); });
    return;
  }
  FERRY_OPS_CUDA_CALL(embedding_lookup, ids, wte, scale, out);
}

void rope(Stream& s, TensorView qkv, TensorView pos, const AttentionShape& a, const RopeParams& p) {
  check::rope(s.device(), qkv, pos, a, p);
  if (s.device() == DeviceKind::CPU) {
    enqueue_cpu(s, "rope", [=, shape = a, params = p] { cpu::rope(qkv, pos, shape, params); });
    return;
  }
  FERRY_OPS_CUDA_CALL(rope, qkv, pos, a, p);
}

// GQA attention. The GPT-2 signatures above are the case n_kv_heads = n_heads of these, on both
// backends (the same kernels).
void attention_prefill(Stream& s, TensorView qkv, TensorView offsets, const AttentionShape& a, TensorView out) {
  check::attention_gqa("attention_prefill", qkv, a);
  if (s.device() == DeviceKind::CPU) {
    enqueue_cpu(s, "attention_prefill", [=, shape = a] { cpu::attention_prefill(qkv, offsets, shape, out); });
    return;
  }
  FERRY_OPS_CUDA_CALL(attention_prefill, qkv, offsets, a, out);
}

void kv_append(Stream& s, TensorView qkv, TensorView seq, TensorView pos, TensorView k_cache, TensorView v_cache,
               const AttentionShape& a) {
  check::attention_gqa("kv_append", qkv, a);
  if (s.device() == DeviceKind::CPU) {
    enqueue_cpu(s, "kv_append", [=, shape = a] { cpu::kv_append(qkv, seq, pos, k_cache, v_cache, shape); });
    return;
  }
  FERRY_OPS_CUDA_CALL(kv_append, qkv, seq, pos, k_cache, v_cache, a);
}

void attention_decode(Stream& s, TensorView qkv, TensorView k_cache, TensorView v_cache, TensorView seq,
                      TensorView len, const AttentionShape& a, TensorView out) {
  check::attention_gqa("attention_decode", qkv, a);
  if (s.device() == DeviceKind::CPU) {
    enqueue_cpu(s, "attention_decode", [=, shape = a] {
      cpu::attention_decode(qkv, k_cache, v_cache, seq, len, shape, out);
    });
    return;
  }
  FERRY_OPS_CUDA_CALL(attention_decode, qkv, k_cache, v_cache, seq, len, a, out);
}

}  // namespace ferry::ops
