// Internal to the probe (probe.cpp, probe_cuda.cu): shared helpers, and the CUDA half, kept free
// of CUDA types so probe.cpp can call it from a host-only translation unit.
#pragma once
#include <cstddef>
#include <vector>

#include "memory/probe.h"

namespace ferry {

inline constexpr std::uint64_t kProbeMinBytes = std::uint64_t{1} << 20;  // smallest --bytes accepted
inline constexpr std::size_t kProbeGranule = std::size_t{64} << 10;      // bytes are rounded up to this

double median_of(std::vector<double> v);  // 0 for an empty vector

// Fills the bandwidths of r (r.bytes is the requested size; it is lowered to a quarter of the free
// device memory when larger). Built only when FERRY_HAVE_CUDA; the current device is the backend's.
void run_probe_cuda(const ProbeOptions& opt, ProbeResult& r);

}  // namespace ferry
