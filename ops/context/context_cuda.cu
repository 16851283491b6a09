// Per-device cuBLASLt handle, workspace, scratch and algorithm cache (see ops/cuda_context.cuh).
// Lives in a folder of its own so that ops/CMakeLists.txt's glob of ops/*/*_cuda.cu compiles it.
#include "ops/cuda_context.cuh"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/cuda_backend.h"
#include "base/error.h"

namespace ferry::ops::cuda {

void cublas_check(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  const std::string msg = std::string(call) + " failed: " + cublasLtGetStatusName(status) + " (" +
                          cublasLtGetStatusString(status) + ") at " + file + ":" + std::to_string(line);
  if (status == CUBLAS_STATUS_ALLOC_FAILED) throw ResourceExhausted(msg);
  throw InternalError(msg);
}

struct DeviceContext {
  std::mutex mutex;  // held by a ContextLease
  cublasLtHandle_t lt = nullptr;
  void* lt_workspace = nullptr;  // [kLtWorkspaceBytes]
  void* scratch = nullptr;       // [kScratchBytes]
  cudaEvent_t last_use = nullptr;  // recorded on the stream of the latest lease
  std::map<MatmulKey, cublasLtMatmulAlgo_t> algos;
};

namespace {

std::mutex g_registry_mutex;
// Indexed by device ordinal. Contexts are never destroyed (see the header), so pointers stay valid.
std::vector<DeviceContext*> g_contexts;

// Frees what a failed create_context() had built (errors ignored: this runs on an error path).
void release_partial(DeviceContext& c) noexcept {
  if (c.last_use) cudaEventDestroy(c.last_use);
  if (c.scratch) cudaFree(c.scratch);
  if (c.lt_workspace) cudaFree(c.lt_workspace);
  if (c.lt) cublasLtDestroy(c.lt);
}

// The device must be current (the launcher's DeviceGuard made it so).
DeviceContext* create_context() {
  auto ctx = std::make_unique<DeviceContext>();
  try {
    FERRY_CUBLAS(cublasLtCreate(&ctx->lt));
    FERRY_CUDA(cudaMalloc(&ctx->lt_workspace, kLtWorkspaceBytes));
    FERRY_CUDA(cudaMalloc(&ctx->scratch, kScratchBytes));
    FERRY_CUDA(cudaEventCreateWithFlags(&ctx->last_use, cudaEventDisableTiming));
  } catch (...) {
    release_partial(*ctx);
    throw;
  }
  return ctx.release();
}

DeviceContext* context_for(int device) {
  std::lock_guard<std::mutex> lock(g_registry_mutex);
  if (device < 0) throw InternalError("ops context: bad device ordinal " + std::to_string(device));
  if (static_cast<std::size_t>(device) >= g_contexts.size()) g_contexts.resize(device + 1, nullptr);
  if (g_contexts[device] == nullptr) g_contexts[device] = create_context();
  return g_contexts[device];
}

}  // namespace

ContextLease::ContextLease(int device, cudaStream_t stream)
    : ctx_(context_for(device)), lock_(ctx_->mutex), stream_(stream) {
  // Wait for the previous user of the buffers. Waiting on an event recorded on this same stream
  // is harmless, and on a never-recorded event a no-op.
  FERRY_CUDA(cudaStreamWaitEvent(stream_, ctx_->last_use, 0));
}

ContextLease::~ContextLease() {
  if (!finished_) cudaEventRecord(ctx_->last_use, stream_);  // best effort: destructors never throw
}

cublasLtHandle_t ContextLease::lt() const { return ctx_->lt; }
void* ContextLease::lt_workspace() const { return ctx_->lt_workspace; }
void* ContextLease::scratch() const { return ctx_->scratch; }

bool ContextLease::find_algo(const MatmulKey& key, cublasLtMatmulAlgo_t* algo) const {
  const auto it = ctx_->algos.find(key);
  if (it == ctx_->algos.end()) return false;
  *algo = it->second;
  return true;
}

void ContextLease::store_algo(const MatmulKey& key, const cublasLtMatmulAlgo_t& algo) {
  // Row counts vary from call to call (prompt lengths, live sequences): bound the cache.
  constexpr std::size_t kMaxAlgos = 4096;
  if (ctx_->algos.size() >= kMaxAlgos) ctx_->algos.clear();
  ctx_->algos[key] = algo;
}

void ContextLease::finish() {
  FERRY_CUDA(cudaEventRecord(ctx_->last_use, stream_));
  finished_ = true;
}

}  // namespace ferry::ops::cuda
