// Internal to the probe (probe.cpp, probe_cuda.cu): shared helpers, and the CUDA half, kept free
// of CUDA types so probe.cpp can call it from a host-only translation unit.
#pragma once
#include <cstddef>
#include <vector>

#include "memory/probe.h"

namespace ferry {

inline constexpr std::uint64_t kProbeMinBytes = std::uint64_t{1} << 20;  // smallest --bytes accepted
inline constexpr std::size_t kProbeGranule = std::size_t{64} << 10;      // bytes are rounded up to this
// The sequential streams per thread the CPU memory-read measurement tries (memory/probe.cpp).
inline constexpr std::size_t kProbeStreams[] = {1, 4, 8, 16};

// The CPU memory-read figure (ProbeResult::device_bps): `threads` threads read two buffers of
// max(n, 2 x LLC) bytes, 1, 4, 8 and 16 streams each, `repeats` times; the best median (bytes/s).
// noise is raised to the spread seen. bench/kernels_bench.cpp measures its kernels against it.
double measure_memory_read(std::size_t n, int threads, int repeats, double& noise);

double median_of(std::vector<double> v);  // 0 for an empty vector
// median_of(v), and raises `noise` to the relative spread (max - min) / median of v when larger.
double median_noting_spread(std::vector<double> v, double& noise);

// Bytes per second of pread() from a file on disk whose pages were dropped from the page cache
// (the disk tier's read), into `dst` of `n` bytes; `n` bytes of the file `f` are used. The median of
// `repeats`; the spread goes into `noise`.
class MappedFile;
double measure_disk_read(const MappedFile& f, std::byte* dst, std::size_t n, int repeats, double& noise);

// Fills the bandwidths of r (r.bytes is the requested size; it is lowered to a quarter of the free
// device memory when larger). Built only when FERRY_HAVE_CUDA; the current device is the backend's.
void run_probe_cuda(const ProbeOptions& opt, ProbeResult& r);

}  // namespace ferry
