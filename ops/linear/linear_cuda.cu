// CUDA linear, activation and logits on cuBLASLt (cublasLtMatmul).
//
// Row-major to column-major: cuBLASLt is column-major, and a row-major [R, C] matrix is the same
// bytes as a column-major [C, R] matrix (its transpose). So out[T, N] = x[T, K] · W is computed as
//   out^T[N, T] = W^T[N, K] · x^T[K, T]      (m = N, n = T, k = K)
// with B = x^T (column-major [K, T], ld K, no transpose) and D = out^T (column-major [N, T], ld N):
//   KN, W[K, N] row-major = column-major [N, K] ld N = W^T: A as is (op N);
//   NK, W[N, K] row-major = column-major [K, N] ld K = W:   A transposed (op T).
// The bias vector runs along D's rows (N), as CUBLASLT_EPILOGUE_BIAS expects.
//
// Types: compute CUBLAS_COMPUTE_32F with f32 alpha/beta; A and B share W's type; C and D are f32.
// cublasLtMatmul supports A/B = f32, f16 or bf16 with C/D = f32 under CUBLAS_COMPUTE_32F, but not
// A and B of different types, so when W is f16/bf16 the f32 activations are rounded to W's type
// into the per-device scratch (in row chunks that fit it) before the product. Accumulation stays
// fp32. With f32 weights no conversion happens and CUBLAS_COMPUTE_32F (not _FAST_TF32) keeps the
// product in full fp32.
//
// Epilogues: CUBLASLT_EPILOGUE_BIAS for the bias; CUBLASLT_EPILOGUE_GELU(_BIAS) only for
// Activation::GeluTanh, because cuBLASLt's GELU epilogue is the tanh approximation (NVIDIA's docs say
// only "GELU"; PyTorch relies on the tanh form: ATen/native/cuda/Blas.cpp applies
// at::gelu_(result, "tanh") wherever the GELU epilogue is unavailable). As that is not documented,
// the first GeluTanh call on a device probes it once (probe_lt_gelu_is_tanh, a tiny synchronous
// product on known inputs): if the epilogue does not match the tanh form to 5e-5, GeluTanh is not
// fused on that device. GeluErf runs as a separate elementwise kernel after the bias epilogue. The bias is
// given to cuBLASLt in D's type (f32, the default of CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE), so an
// f16/bf16 bias is widened into the scratch first. If cuBLASLt offers no algorithm for the fused
// epilogue, the plain product runs and a kernel adds bias and activation; if it offers none at all,
// a plain tiled CUDA-core GEMM (f32 x, W in its own type) does the whole job.
#include <cublasLt.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "ops/cuda.h"
#include "ops/cuda_common.cuh"
#include "ops/cuda_context.cuh"

namespace ferry::ops::cuda {
namespace {

// ---- elementwise kernels -------------------------------------------------------------------------

// GELU, tanh approximation (Hendrycks & Gimpel 2016): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
__device__ __forceinline__ float gelu_tanh(float x) {
  const float k = 0.7978845608028654f;  // sqrt(2/pi)
  return 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
}
// GELU, exact: x Phi(x) = 0.5 x (1 + erf(x / sqrt(2))).
__device__ __forceinline__ float gelu_erf(float x) { return 0.5f * x * (1.0f + erff(x * 0.7071067811865476f)); }

__device__ __forceinline__ float apply_act(float v, int act) {
  if (act == static_cast<int>(Activation::GeluTanh)) return gelu_tanh(v);
  if (act == static_cast<int>(Activation::GeluErf)) return gelu_erf(v);
  if (act == static_cast<int>(Activation::Tanh)) return tanhf(v);
  return v;
}

// x[n] f32, in place.
__global__ void activation_kernel(float* __restrict__ x, std::int64_t n, int act) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
    x[i] = apply_act(x[i], act);
}

// out[rows, N] f32 (in place): out = act(out + bias); bias[N] or null.
template <class B>
__global__ void bias_act_kernel(float* __restrict__ out, const B* __restrict__ bias, std::int64_t rows,
                                std::int64_t N, int act) {
  const std::int64_t n = rows * N;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    float v = out[i];
    if (bias != nullptr) v += to_f32(bias[i % N]);
    out[i] = apply_act(v, act);
  }
}

// dst[n] = round(src[n]) to T.
template <class T, class S>
__global__ void convert_kernel(const S* __restrict__ src, T* __restrict__ dst, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
    dst[i] = from_f32<T>(to_f32(src[i]));
}

// Last-resort product when cuBLASLt offers no algorithm at all: a plain shared-memory tiled GEMM on
// CUDA cores, f32 x times W in its own type, fp32 accumulation, bias and activation fused.
// x[T, K] f32, w KN [K, N] or NK [N, K], bias[N] f32 or null, out[T, N] f32.
constexpr int kTile = 16;
template <class W, bool NK>
__global__ void gemm_fallback_kernel(const float* __restrict__ x, const W* __restrict__ w,
                                     const float* __restrict__ bias, float* __restrict__ out, std::int64_t T,
                                     std::int64_t N, std::int64_t K, int act) {
  __shared__ float xs[kTile][kTile + 1];
  __shared__ float ws[kTile][kTile + 1];
  const int tx = threadIdx.x;
  const int ty = threadIdx.y;
  const std::int64_t t = static_cast<std::int64_t>(blockIdx.y) * kTile + ty;
  const std::int64_t n = static_cast<std::int64_t>(blockIdx.x) * kTile + tx;  // also the column of W tx loads
  float acc = 0.0f;
  for (std::int64_t k0 = 0; k0 < K; k0 += kTile) {
    xs[ty][tx] = (t < T && k0 + tx < K) ? x[t * K + k0 + tx] : 0.0f;
    const std::int64_t wk = k0 + ty;
    float wv = 0.0f;
    if (wk < K && n < N) wv = to_f32(NK ? w[n * K + wk] : w[wk * N + n]);
    ws[ty][tx] = wv;
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kTile; ++kk) acc = fmaf(xs[ty][kk], ws[kk][tx], acc);
    __syncthreads();
  }
  if (t < T && n < N) {
    float v = acc;
    if (bias != nullptr) v += bias[n];
    out[t * N + n] = apply_act(v, act);
  }
}

template <class W>
void launch_gemm_fallback(const float* x, const void* w, bool nk, const float* bias, float* out, std::int64_t T,
                          std::int64_t N, std::int64_t K, Activation act, cudaStream_t s) {
  const dim3 block(kTile, kTile);
  const dim3 grid(static_cast<unsigned>((N + kTile - 1) / kTile), static_cast<unsigned>((T + kTile - 1) / kTile));
  if (nk)
    gemm_fallback_kernel<W, true><<<grid, block, 0, s>>>(x, static_cast<const W*>(w), bias, out, T, N, K,
                                                         static_cast<int>(act));
  else
    gemm_fallback_kernel<W, false><<<grid, block, 0, s>>>(x, static_cast<const W*>(w), bias, out, T, N, K,
                                                          static_cast<int>(act));
  FERRY_CUDA_LAUNCHED("gemm_fallback_kernel");
}

constexpr int kEwThreads = 256;
unsigned ew_blocks(std::int64_t n) {
  // Grid-stride loops: enough blocks to fill any current GPU, capped to keep launches cheap.
  return static_cast<unsigned>(std::clamp<std::int64_t>((n + kEwThreads - 1) / kEwThreads, 1, 65535));
}

template <class T>
void launch_convert_from_f32(const float* src, void* dst, std::int64_t n, cudaStream_t s) {
  convert_kernel<T, float><<<ew_blocks(n), kEwThreads, 0, s>>>(src, static_cast<T*>(dst), n);
  FERRY_CUDA_LAUNCHED("convert_kernel");
}

// ---- cuBLASLt ------------------------------------------------------------------------------------

cudaDataType_t lt_type(DType t) {
  switch (t) {
    case DType::F32:
      return CUDA_R_32F;
    case DType::F16:
      return CUDA_R_16F;
    case DType::BF16:
      return CUDA_R_16BF;
    default:
      break;
  }
  throw InternalError(std::string("linear: unsupported weight dtype ") + dtype_name(t) + " on CUDA");
}

// Largest power of two (<= 256) dividing the address: cuBLASLt assumes 256-byte aligned operands
// unless told otherwise (CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_*_BYTES).
std::uint32_t alignment_of(const void* p) {
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  std::uint32_t al = 256;
  while (al > 1 && a % al != 0) al >>= 1;
  return al;
}

// RAII holders of the cuBLASLt descriptors (destruction errors ignored: destructors never throw).
struct LtDesc {
  cublasLtMatmulDesc_t d = nullptr;
  ~LtDesc() {
    if (d) cublasLtMatmulDescDestroy(d);
  }
};
struct LtLayout {
  cublasLtMatrixLayout_t d = nullptr;
  ~LtLayout() {
    if (d) cublasLtMatrixLayoutDestroy(d);
  }
};
struct LtPref {
  cublasLtMatmulPreference_t d = nullptr;
  ~LtPref() {
    if (d) cublasLtMatmulPreferenceDestroy(d);
  }
};

// One product D[N, n] (column-major, ld N) = op(A) · B[K, n] (+ epilogue), A = the weight.
struct GemmArgs {
  cudaDataType_t ab_type;
  const void* w;  // KN: [K, N] row-major; NK: [N, K] row-major
  bool nk;
  const void* x;  // [n, K] row-major, ab_type
  float* out;     // [n, N] row-major f32
  std::int64_t N, K, n;
};

// Runs the product with epilogue `epi` (bias: f32 [N] or null). Returns false, having enqueued
// nothing, when cuBLASLt has no algorithm for this configuration.
bool lt_matmul(ContextLease& ctx, cudaStream_t s, const GemmArgs& g, cublasLtEpilogue_t epi, const float* bias) {
  const cublasOperation_t op_a = g.nk ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = CUBLAS_OP_N;
  const std::int64_t lda = g.nk ? g.K : g.N;

  LtDesc desc;
  FERRY_CUBLAS(cublasLtMatmulDescCreate(&desc.d, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  FERRY_CUBLAS(cublasLtMatmulDescSetAttribute(desc.d, CUBLASLT_MATMUL_DESC_TRANSA, &op_a, sizeof(op_a)));
  FERRY_CUBLAS(cublasLtMatmulDescSetAttribute(desc.d, CUBLASLT_MATMUL_DESC_TRANSB, &op_b, sizeof(op_b)));
  FERRY_CUBLAS(cublasLtMatmulDescSetAttribute(desc.d, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi)));
  if (bias != nullptr)
    FERRY_CUBLAS(cublasLtMatmulDescSetAttribute(desc.d, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)));

  LtLayout a, b, d;
  if (g.nk)
    FERRY_CUBLAS(cublasLtMatrixLayoutCreate(&a.d, g.ab_type, g.K, g.N, lda));
  else
    FERRY_CUBLAS(cublasLtMatrixLayoutCreate(&a.d, g.ab_type, g.N, g.K, lda));
  FERRY_CUBLAS(cublasLtMatrixLayoutCreate(&b.d, g.ab_type, g.K, g.n, g.K));
  FERRY_CUBLAS(cublasLtMatrixLayoutCreate(&d.d, CUDA_R_32F, g.N, g.n, g.N));

  const std::uint32_t align_a = alignment_of(g.w);
  const std::uint32_t align_b = alignment_of(g.x);
  const std::uint32_t align_d = alignment_of(g.out);
  const MatmulKey key = {static_cast<std::int64_t>(g.ab_type),
                         static_cast<std::int64_t>(op_a),
                         g.N,
                         g.n,
                         g.K,
                         lda,
                         static_cast<std::int64_t>(epi),
                         align_a,
                         align_b,
                         align_d,
                         bias != nullptr ? static_cast<std::int64_t>(alignment_of(bias)) : 0,
                         0,
                         0,
                         0,
                         0,
                         0};

  cublasLtMatmulAlgo_t algo{};
  if (!ctx.find_algo(key, &algo)) {
    LtPref pref;
    const std::uint64_t ws_bytes = kLtWorkspaceBytes;
    FERRY_CUBLAS(cublasLtMatmulPreferenceCreate(&pref.d));
    FERRY_CUBLAS(cublasLtMatmulPreferenceSetAttribute(pref.d, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws_bytes,
                                                      sizeof(ws_bytes)));
    FERRY_CUBLAS(cublasLtMatmulPreferenceSetAttribute(pref.d, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &align_a,
                                                      sizeof(align_a)));
    FERRY_CUBLAS(cublasLtMatmulPreferenceSetAttribute(pref.d, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &align_b,
                                                      sizeof(align_b)));
    FERRY_CUBLAS(cublasLtMatmulPreferenceSetAttribute(pref.d, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align_d,
                                                      sizeof(align_d)));
    FERRY_CUBLAS(cublasLtMatmulPreferenceSetAttribute(pref.d, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &align_d,
                                                      sizeof(align_d)));
    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    const cublasStatus_t st =
        cublasLtMatmulAlgoGetHeuristic(ctx.lt(), desc.d, a.d, b.d, d.d, d.d, pref.d, 1, &result, &found);
    if (st == CUBLAS_STATUS_NOT_SUPPORTED || (st == CUBLAS_STATUS_SUCCESS && found == 0)) return false;
    FERRY_CUBLAS(st);
    algo = result.algo;
    ctx.store_algo(key, algo);
  }

  const float alpha = 1.0f;
  const float beta = 0.0f;
  FERRY_CUBLAS(cublasLtMatmul(ctx.lt(), desc.d, &alpha, g.w, a.d, g.x, b.d, &beta, g.out, d.d, g.out, d.d, &algo,
                              ctx.lt_workspace(), kLtWorkspaceBytes, s));
  return true;
}

cublasLtEpilogue_t epilogue_for(bool has_bias, bool gelu) {
  if (gelu) return has_bias ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_GELU;
  return has_bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
}

constexpr std::size_t round_up(std::size_t v, std::size_t a) { return (v + a - 1) / a * a; }

// GELU tanh form in double, for the probe.
double gelu_tanh_host(double x) {
  return 0.5 * x * (1.0 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
}

// Runs out[1, 16] = GELU(x[1, 8] · W[8, 16]) with x = e_0, so out_j = GELU(v_j), through the GELU
// epilogue, and compares with the tanh form. At the probe points the tanh and erf forms differ by
// 1e-4 to 4.4e-4, so a 5e-5 tolerance tells them apart. Uses the start of the scratch and
// synchronizes the stream (once per device). Call before anything else uses the scratch.
bool probe_lt_gelu_is_tanh(ContextLease& ctx, cudaStream_t s) {
  constexpr int kK = 8;
  constexpr int kN = 16;
  const float v[kN] = {-3.0f, -2.5f, -2.0f, -1.5f, -1.0f, -0.75f, -0.5f, -0.25f,
                       0.25f, 0.5f,  0.75f, 1.0f,  1.5f,  2.0f,   2.5f,  3.0f};
  float w[kK * kN] = {};  // KN [K, N]: row 0 holds the probe points, the rest is 0
  float x[kK] = {};       // [1, K] = e_0
  x[0] = 1.0f;
  for (int j = 0; j < kN; ++j) w[j] = v[j];
  auto* base = static_cast<char*>(ctx.scratch());
  auto* d_w = reinterpret_cast<float*>(base);
  auto* d_x = reinterpret_cast<float*>(base + 1024);
  auto* d_out = reinterpret_cast<float*>(base + 2048);
  FERRY_CUDA(cudaMemcpyAsync(d_w, w, sizeof(w), cudaMemcpyHostToDevice, s));
  FERRY_CUDA(cudaMemcpyAsync(d_x, x, sizeof(x), cudaMemcpyHostToDevice, s));
  const GemmArgs g{CUDA_R_32F, d_w, false, d_x, d_out, kN, kK, 1};
  if (!lt_matmul(ctx, s, g, CUBLASLT_EPILOGUE_GELU, nullptr)) return false;
  float out[kN] = {};
  FERRY_CUDA(cudaMemcpyAsync(out, d_out, sizeof(out), cudaMemcpyDeviceToHost, s));
  FERRY_CUDA(cudaStreamSynchronize(s));
  for (int j = 0; j < kN; ++j)
    if (!(std::fabs(static_cast<double>(out[j]) - gelu_tanh_host(v[j])) <= 5e-5)) return false;
  return true;
}

// Whether GeluTanh may use the GELU epilogue on `device` (probed once per device, under the lease).
bool lt_gelu_is_tanh(ContextLease& ctx, cudaStream_t s, int device) {
  static std::mutex mutex;
  static std::map<int, bool> known;  // device -> probe result
  {
    std::lock_guard<std::mutex> lock(mutex);
    const auto it = known.find(device);
    if (it != known.end()) return it->second;
  }
  const bool tanh_form = probe_lt_gelu_is_tanh(ctx, s);
  std::lock_guard<std::mutex> lock(mutex);
  known[device] = tanh_form;
  return tanh_form;
}

}  // namespace

void linear(void* stream, TensorView x, TensorView w, WeightLayout layout, TensorView bias, Activation act,
            TensorView out) {
  const char* op = "linear";
  require_dtype(x, DType::F32, op, "x");
  require_dtype(out, DType::F32, op, "out");
  require_shape(x.shape.rank == 2 && w.shape.rank == 2 && out.shape.rank == 2, op, "x, w, out are 2-D");
  const std::int64_t T = x.dim(0);
  const std::int64_t K = x.dim(1);
  const bool nk = layout == WeightLayout::NK;
  const std::int64_t N = nk ? w.dim(0) : w.dim(1);
  require_shape((nk ? w.dim(1) : w.dim(0)) == K, op, nk ? "w[N, K] with x[T, K]" : "w[K, N] with x[T, K]");
  require_shape(out.dim(0) == T && out.dim(1) == N, op, "out[T, N]");
  require_shape(!bias.present() || bias.numel() == N, op, "bias[N]");
  const cudaDataType_t ab_type = lt_type(w.dtype);
  if (T == 0 || N == 0) return;
  require_shape(K > 0, op, "K > 0");

  cudaStream_t s = as_stream(stream);
  DeviceGuard guard(s);
  ContextLease ctx(guard.device(), s);
  // Decided before anything else is put in the scratch (the probe uses it).
  const bool fuse_gelu = act == Activation::GeluTanh && lt_gelu_is_tanh(ctx, s, guard.device());
  auto* scratch = static_cast<char*>(ctx.scratch());
  std::size_t scratch_used = 0;

  // The bias in f32 (cuBLASLt takes it in D's type).
  const float* bias_f32 = nullptr;
  if (bias.present()) {
    if (bias.dtype == DType::F32) {
      bias_f32 = bias.as<const float>();
    } else {
      const std::size_t bytes = round_up(static_cast<std::size_t>(N) * sizeof(float), 256);
      require_shape(bytes <= kScratchBytes / 2, op, "bias[N] fits half the scratch");
      float* dst = reinterpret_cast<float*>(scratch);
      dispatch_float(bias.dtype, op, "bias", [&](auto tag) {
        using B = decltype(tag);
        convert_kernel<float, B><<<ew_blocks(N), kEwThreads, 0, s>>>(bias.as<const B>(), dst, N);
        FERRY_CUDA_LAUNCHED("convert_kernel");
      });
      bias_f32 = dst;
      scratch_used = bytes;
    }
  }

  const Activation post_act = fuse_gelu ? Activation::None : act;
  const cublasLtEpilogue_t epi = epilogue_for(bias_f32 != nullptr, fuse_gelu);

  // Rows per product: all of them with f32 weights; otherwise as many as the scratch holds.
  const bool convert_x = w.dtype != DType::F32;
  std::int64_t chunk = T;
  if (convert_x) {
    const std::size_t row_bytes = static_cast<std::size_t>(K) * dtype_size(w.dtype);
    chunk = std::min<std::int64_t>(T, static_cast<std::int64_t>((kScratchBytes - scratch_used) / row_bytes));
    require_shape(chunk > 0, op, "one row of x fits the scratch");
  }
  void* x_conv = scratch + scratch_used;

  for (std::int64_t r0 = 0; r0 < T; r0 += chunk) {
    const std::int64_t n = std::min(chunk, T - r0);
    const float* x_rows = x.as<const float>() + r0 * K;
    float* out_rows = out.as<float>() + r0 * N;
    const void* b_ptr = x_rows;
    if (convert_x) {
      if (w.dtype == DType::F16)
        launch_convert_from_f32<__half>(x_rows, x_conv, n * K, s);
      else
        launch_convert_from_f32<__nv_bfloat16>(x_rows, x_conv, n * K, s);
      b_ptr = x_conv;
    }
    const GemmArgs g{ab_type, w.data, nk, b_ptr, out_rows, N, K, n};
    if (lt_matmul(ctx, s, g, epi, bias_f32)) {
      if (post_act != Activation::None) {
        activation_kernel<<<ew_blocks(n * N), kEwThreads, 0, s>>>(out_rows, n * N, static_cast<int>(post_act));
        FERRY_CUDA_LAUNCHED("activation_kernel");
      }
    } else if (epi != CUBLASLT_EPILOGUE_DEFAULT && lt_matmul(ctx, s, g, CUBLASLT_EPILOGUE_DEFAULT, nullptr)) {
      // No algorithm with the fused epilogue: plain product, then bias and activation in one kernel.
      if (bias_f32 != nullptr || act != Activation::None) {
        bias_act_kernel<float><<<ew_blocks(n * N), kEwThreads, 0, s>>>(out_rows, bias_f32, n, N, static_cast<int>(act));
        FERRY_CUDA_LAUNCHED("bias_act_kernel");
      }
    } else {
      // cuBLASLt declines this product altogether (type combination or alignment): CUDA-core GEMM.
      require_shape(n < 65535 * static_cast<std::int64_t>(kTile), op, "rows fit the fallback grid");
      dispatch_float(w.dtype, op, "w", [&](auto tag) {
        launch_gemm_fallback<decltype(tag)>(x_rows, w.data, nk, bias_f32, out_rows, n, N, K, act, s);
      });
    }
  }
  ctx.finish();
}

void activation(void* stream, TensorView x, Activation act) {
  require_dtype(x, DType::F32, "activation", "x");
  const std::int64_t n = x.numel();
  if (act == Activation::None || n == 0) return;
  cudaStream_t s = as_stream(stream);
  DeviceGuard guard(s);
  activation_kernel<<<ew_blocks(n), kEwThreads, 0, s>>>(x.as<float>(), n, static_cast<int>(act));
  FERRY_CUDA_LAUNCHED("activation_kernel");
}

void logits(void* stream, TensorView x, TensorView wte, TensorView out) {
  linear(stream, x, wte, WeightLayout::NK, TensorView{}, Activation::None, out);
}

}  // namespace ferry::ops::cuda
