// The accounting shared by both builds, and the counters of a build without CUDA.
#include "base/um_counters.h"

#ifdef FERRY_HAVE_CUDA
#include <cupti_activity.h>
#endif

namespace ferry {

namespace {
// CUpti_ActivityUnifiedMemoryCounterKind (cupti_activity.h), fixed by the CUPTI ABI.
constexpr int kBytesH2D = 1, kBytesD2H = 2, kGpuPageFault = 4;
#ifdef FERRY_HAVE_CUDA
static_assert(kBytesH2D == CUPTI_ACTIVITY_UNIFIED_MEMORY_COUNTER_KIND_BYTES_TRANSFER_HTOD);
static_assert(kBytesD2H == CUPTI_ACTIVITY_UNIFIED_MEMORY_COUNTER_KIND_BYTES_TRANSFER_DTOH);
static_assert(kGpuPageFault == CUPTI_ACTIVITY_UNIFIED_MEMORY_COUNTER_KIND_GPU_PAGE_FAULT);
#endif
}  // namespace

void add_um_record(UmCounts& c, int counter_kind, std::uint64_t value) {
  // For transfers, value is the size of the migrated region in bytes; for a GPU page fault it is
  // the number of fault groups of the page, and each record is one faulted page.
  switch (counter_kind) {
    case kBytesH2D: c.bytes_h2d += value; break;
    case kBytesD2H: c.bytes_d2h += value; break;
    case kGpuPageFault: c.gpu_page_faults += 1; break;
    default: break;
  }
}

#ifndef FERRY_HAVE_CUDA
std::string enable_um_counters(int) { return "this ferry was built without CUDA"; }
bool um_counters_enabled() { return false; }
UmCounts um_counts() { return {}; }
#endif

}  // namespace ferry
