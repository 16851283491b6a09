// CUDA rotary position embedding (Su et al., RoFormer 2021), Hugging Face rotate-half convention, in
// place on the q heads and the k heads of each qkv row; one block per token.
//
// The inverse frequencies are computed on the host by the very code the CPU kernel and the
// reference use (ops/rope/rope_freq.h, f32, transformers' scaling rules) and passed to the kernel
// by value, as a kernel parameter: no device buffer, nothing allocated, and the same f32 bits on
// every backend. That matters: angle = f32(pos) * inv_freq is rounded in f32, and at positions of
// 10^5 one ulp of inv_freq moves the angle by ~10^-2 rad, so a device powf (2 ulp) would not match.
// Each block first evaluates cos/sin of its token's R/2 angles into shared memory (sincosf, full
// range reduction: accurate for large angles; never the __sinf/__cosf intrinsics), then rotates
// every (head, i) pair of its row.
#include <cstdint>
#include <string>

#include "ops/cuda.h"
#include "ops/cuda_common.cuh"
#include "ops/rope/rope_freq.h"

namespace ferry::ops::cuda {
namespace {

constexpr int kMaxRotaryHalf = 256;  // rotary_dim <= 512; 1 KiB of kernel parameters
constexpr int kRopeThreads = 128;

struct InvFreq {
  float v[kMaxRotaryHalf];
};

// qkv[T, ld] f32 (in/out): for each of the `heads` (q then k) heads of D columns starting at column
// 0 of a row, x[i], x[i + half] with i < half rotate by angle f32(pos[t]) * freq.v[i].
__global__ void __launch_bounds__(kRopeThreads)
    rope_kernel(float* __restrict__ qkv, const std::int32_t* __restrict__ pos, std::int64_t ld, int heads, int D,
                int half, const __grid_constant__ InvFreq freq) {
  __shared__ float cos_s[kMaxRotaryHalf];
  __shared__ float sin_s[kMaxRotaryHalf];
  const std::int64_t t = blockIdx.x;
  const float fp = static_cast<float>(pos[t]);
  for (int i = threadIdx.x; i < half; i += blockDim.x) {
    const float angle = fp * freq.v[i];  // f32, as PyTorch: the same bits as the CPU and the reference
    float sn;
    float cs;
    sincosf(angle, &sn, &cs);
    cos_s[i] = cs;
    sin_s[i] = sn;
  }
  __syncthreads();
  float* row = qkv + t * ld;
  const int n = heads * half;
  for (int k = threadIdx.x; k < n; k += blockDim.x) {
    const int h = k / half;
    const int i = k - h * half;
    float* x = row + static_cast<std::int64_t>(h) * D;
    const float x1 = x[i];
    const float x2 = x[i + half];
    const float c = cos_s[i];
    const float sn = sin_s[i];
    x[i] = x1 * c - x2 * sn;
    x[i + half] = x2 * c + x1 * sn;
  }
}

}  // namespace

void rope(void* stream, TensorView qkv, TensorView pos, const AttentionShape& a, const RopeParams& p) {
  const char* op = "rope";
  require_dtype(qkv, DType::F32, op, "qkv");
  require_dtype(pos, DType::I32, op, "pos");
  require_shape(qkv.shape.rank == 2, op, "qkv[T, W]");
  const std::int64_t T = qkv.dim(0);
  const std::int64_t ld = qkv.dim(1);
  require_shape(a.n_heads > 0 && a.n_kv_heads > 0 && a.head_dim > 0 &&
                    ld == static_cast<std::int64_t>(a.n_heads + 2 * a.n_kv_heads) * a.head_dim,
                op, "qkv[T, (n_heads + 2 n_kv_heads) head_dim]");
  require_shape(pos.numel() == T, op, "pos[T]");
  require_shape(T < (std::int64_t{1} << 31) && ld < (std::int64_t{1} << 31), op, "T and W fit an int");
  const int r = p.rotary_dim == 0 ? a.head_dim : p.rotary_dim;
  require_shape(r > 0 && r <= a.head_dim && r % 2 == 0, op, "rotary_dim even and in (0, head_dim]");
  const int half = r / 2;
  if (half > kMaxRotaryHalf)
    throw InternalError("rope: rotary_dim " + std::to_string(r) + " > " + std::to_string(2 * kMaxRotaryHalf) +
                        " is not supported on CUDA");
  if (T == 0) return;

  InvFreq freq{};
  for (int i = 0; i < half; ++i) freq.v[i] = ::ferry::ops::detail::rope_inv_freq(i, r, p);

  cudaStream_t s = as_stream(stream);
  DeviceGuard guard(s);
  rope_kernel<<<static_cast<unsigned>(T), kRopeThreads, 0, s>>>(qkv.as<float>(), pos.as<const std::int32_t>(), ld,
                                                                 a.n_heads + a.n_kv_heads, a.head_dim, half, freq);
  FERRY_CUDA_LAUNCHED("rope_kernel");
}

}  // namespace ferry::ops::cuda
