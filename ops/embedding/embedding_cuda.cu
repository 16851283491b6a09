// CUDA embedding: out[t, :] = wte[ids[t], :] + wpe[pos[t], :], and embedding_lookup (LLaMA family, no
// position table): out[t, :] = wte[ids[t], :] * scale. One block per token.
#include <cstdint>

#include "ops/cuda.h"
#include "ops/cuda_common.cuh"

namespace ferry::ops::cuda {
namespace {

// ids[T] i32, pos[T] i32, wte[V, H], wpe[C, H], out[T, H] f32.
// An id or position out of range cannot be reported from the device: its row is set to NaN so the
// mistake is visible in the logits instead of reading outside the tables.
template <class W>
__global__ void embedding_kernel(const std::int32_t* __restrict__ ids, const std::int32_t* __restrict__ pos,
                                 const W* __restrict__ wte, const W* __restrict__ wpe,
                                 float* __restrict__ out, std::int64_t V, std::int64_t C, std::int64_t H) {
  const std::int64_t t = blockIdx.x;
  const std::int64_t id = ids[t];
  const std::int64_t p = pos[t];
  float* row = out + t * H;
  if (id < 0 || id >= V || p < 0 || p >= C) {
    for (std::int64_t i = threadIdx.x; i < H; i += blockDim.x) row[i] = __int_as_float(0x7fc00000);
    return;
  }
  const W* a = wte + id * H;
  const W* b = wpe + p * H;
  for (std::int64_t i = threadIdx.x; i < H; i += blockDim.x) row[i] = to_f32(a[i]) + to_f32(b[i]);
}

// ids[T] i32, wte[V, H], out[T, H] f32. An out-of-range id gives a NaN row (as embedding_kernel).
// scale 1 copies exactly (x * 1 is x in f32).
template <class W>
__global__ void embedding_lookup_kernel(const std::int32_t* __restrict__ ids, const W* __restrict__ wte, float scale,
                                        float* __restrict__ out, std::int64_t V, std::int64_t H) {
  const std::int64_t t = blockIdx.x;
  const std::int64_t id = ids[t];
  float* row = out + t * H;
  if (id < 0 || id >= V) {
    for (std::int64_t i = threadIdx.x; i < H; i += blockDim.x) row[i] = __int_as_float(0x7fc00000);
    return;
  }
  const W* a = wte + id * H;
  for (std::int64_t i = threadIdx.x; i < H; i += blockDim.x) row[i] = to_f32(a[i]) * scale;
}

}  // namespace

void embedding(void* stream, TensorView ids, TensorView pos, TensorView wte, TensorView wpe, TensorView out) {
  const char* op = "embedding";
  require_dtype(ids, DType::I32, op, "ids");
  require_dtype(pos, DType::I32, op, "pos");
  require_dtype(out, DType::F32, op, "out");
  if (wte.dtype != wpe.dtype) throw InternalError("embedding: wte and wpe must have one dtype");
  require_shape(wte.shape.rank == 2 && wpe.shape.rank == 2 && out.shape.rank == 2, op, "wte, wpe, out are 2-D");
  const std::int64_t T = out.dim(0);
  const std::int64_t H = out.dim(1);
  require_shape(ids.numel() == T && pos.numel() == T, op, "ids[T], pos[T]");
  require_shape(wte.dim(1) == H && wpe.dim(1) == H, op, "wte[V, H], wpe[C, H]");
  if (T == 0 || H == 0) return;

  cudaStream_t s = as_stream(stream);
  DeviceGuard guard(s);
  const int threads = H >= 512 ? 256 : 128;
  dispatch_float(wte.dtype, op, "wte", [&](auto tag) {
    using W = decltype(tag);
    embedding_kernel<W><<<static_cast<unsigned>(T), threads, 0, s>>>(
        ids.as<const std::int32_t>(), pos.as<const std::int32_t>(), wte.as<const W>(), wpe.as<const W>(),
        out.as<float>(), wte.dim(0), wpe.dim(0), H);
    FERRY_CUDA_LAUNCHED("embedding_kernel");
  });
}

void embedding_lookup(void* stream, TensorView ids, TensorView wte, float scale, TensorView out) {
  const char* op = "embedding_lookup";
  require_dtype(ids, DType::I32, op, "ids");
  require_dtype(out, DType::F32, op, "out");
  require_shape(wte.shape.rank == 2 && out.shape.rank == 2, op, "wte, out are 2-D");
  const std::int64_t T = out.dim(0);
  const std::int64_t H = out.dim(1);
  require_shape(ids.numel() == T, op, "ids[T]");
  require_shape(wte.dim(1) == H, op, "wte[V, H]");
  require_shape(T < (std::int64_t{1} << 31), op, "T fits a grid");
  if (T == 0 || H == 0) return;

  cudaStream_t s = as_stream(stream);
  DeviceGuard guard(s);
  const int threads = H >= 512 ? 256 : 128;
  dispatch_float(wte.dtype, op, "wte", [&](auto tag) {
    using W = decltype(tag);
    embedding_lookup_kernel<W><<<static_cast<unsigned>(T), threads, 0, s>>>(
        ids.as<const std::int32_t>(), wte.as<const W>(), scale, out.as<float>(), wte.dim(0), H);
    FERRY_CUDA_LAUNCHED("embedding_lookup_kernel");
  });
}

}  // namespace ferry::ops::cuda
