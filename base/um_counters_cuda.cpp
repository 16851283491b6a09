// CUPTI Unified Memory counters (CUPTI Activity API: cuptiActivityRegisterCallbacks,
// cuptiActivityConfigureUnifiedMemoryCounter, cuptiActivityEnable with
// CUPTI_ACTIVITY_KIND_UNIFIED_MEMORY_COUNTER, records delivered in buffers on flush).
#include <cuda_runtime.h>
#include <cupti.h>

#include <cstdlib>
#include <mutex>

#include "base/um_counters.h"

namespace ferry {

namespace {

std::mutex g_mu;
UmCounts g_totals;
bool g_enabled = false;

constexpr std::size_t kBufferBytes = std::size_t{4} << 20;

void CUPTIAPI buffer_requested(std::uint8_t** buffer, std::size_t* size, std::size_t* max_records) {
  *buffer = static_cast<std::uint8_t*>(std::aligned_alloc(ACTIVITY_RECORD_ALIGNMENT, kBufferBytes));
  *size = *buffer ? kBufferBytes : 0;
  *max_records = 0;  // as many as fit
}

void CUPTIAPI buffer_completed(CUcontext, std::uint32_t, std::uint8_t* buffer, std::size_t, std::size_t valid) {
  UmCounts add;
  CUpti_Activity* rec = nullptr;
  while (cuptiActivityGetNextRecord(buffer, valid, &rec) == CUPTI_SUCCESS) {
    if (rec->kind != CUPTI_ACTIVITY_KIND_UNIFIED_MEMORY_COUNTER) continue;
    // counterKind and value lead every version of the record (Counter2, Counter3).
    const auto* um = reinterpret_cast<const CUpti_ActivityUnifiedMemoryCounter3*>(rec);
    add_um_record(add, static_cast<int>(um->counterKind), um->value);
  }
  std::free(buffer);
  std::lock_guard<std::mutex> lock(g_mu);
  g_totals.gpu_page_faults += add.gpu_page_faults;
  g_totals.bytes_h2d += add.bytes_h2d;
  g_totals.bytes_d2h += add.bytes_d2h;
}

std::string cupti_error(const char* call, CUptiResult r) {
  const char* s = nullptr;
  cuptiGetResultString(r, &s);
  return std::string(call) + ": " + (s ? s : "CUPTI error " + std::to_string(static_cast<int>(r)));
}

}  // namespace

std::string enable_um_counters(int device) {
  if (g_enabled) return "";
  int count = 0;
  if (const cudaError_t e = cudaGetDeviceCount(&count); e != cudaSuccess) return std::string("no CUDA device: ") + cudaGetErrorString(e);
  if (device < 0 || device >= count) return "no CUDA device " + std::to_string(device);
  if (const CUptiResult r = cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed); r != CUPTI_SUCCESS)
    return cupti_error("cuptiActivityRegisterCallbacks", r);
  CUpti_ActivityUnifiedMemoryCounterConfig config[3] = {};
  const CUpti_ActivityUnifiedMemoryCounterKind kinds[3] = {CUPTI_ACTIVITY_UNIFIED_MEMORY_COUNTER_KIND_GPU_PAGE_FAULT,
                                                          CUPTI_ACTIVITY_UNIFIED_MEMORY_COUNTER_KIND_BYTES_TRANSFER_HTOD,
                                                          CUPTI_ACTIVITY_UNIFIED_MEMORY_COUNTER_KIND_BYTES_TRANSFER_DTOH};
  for (int i = 0; i < 3; ++i) {
    config[i].scope = CUPTI_ACTIVITY_UNIFIED_MEMORY_COUNTER_SCOPE_PROCESS_SINGLE_DEVICE;
    config[i].kind = kinds[i];
    config[i].deviceId = static_cast<std::uint32_t>(device);
    config[i].enable = 1;
  }
  if (const CUptiResult r = cuptiActivityConfigureUnifiedMemoryCounter(config, 3); r != CUPTI_SUCCESS)
    return cupti_error("cuptiActivityConfigureUnifiedMemoryCounter", r);
  if (const CUptiResult r = cuptiActivityEnable(CUPTI_ACTIVITY_KIND_UNIFIED_MEMORY_COUNTER); r != CUPTI_SUCCESS)
    return cupti_error("cuptiActivityEnable(UNIFIED_MEMORY_COUNTER)", r);
  g_enabled = true;
  return "";
}

bool um_counters_enabled() { return g_enabled; }

UmCounts um_counts() {
  if (!g_enabled) return {};
  cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);  // completes every buffer into g_totals
  std::lock_guard<std::mutex> lock(g_mu);
  return g_totals;
}

}  // namespace ferry
