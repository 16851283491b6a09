// Bandwidth probe (`ferry probe`): measures, on the machine it runs on, the speeds that bound
// out-of-core inference, and stores them as JSON for the planner and for the bound every run is
// reported against (DESIGN.md, "The limit we measure against").
//
// CUDA: pinned host->device and device->host copy, managed prefetch (cudaMemPrefetchAsync) to the
//       device, on-demand fault migration (a kernel touching non-resident managed pages), device
//       memory bandwidth (a copy kernel: bytes read + written per second).
// CPU:  RAM->RAM memcpy between buffers (the `stream` tier's copy), page-cache -> process
//       bandwidth of an mmap'ed file touched page by page (`um`), madvise(WILLNEED)+touch (`um-prefetch`),
//       and the RAM bandwidth a streaming read achieves (the resident bound).
#pragma once
#include <cstdint>
#include <string>

#include "base/backend.h"
#include "memory/policy.h"

namespace ferry {

struct ProbeOptions {
  std::uint64_t bytes = std::uint64_t{256} << 20;  // transfer size per measurement
  int repeats = 5;                                  // the median of this many is reported
  std::string scratch_dir = "/var/tmp";             // where the file of the disk and mmap measurements goes
  // Bytes of the file measurements (disk read, mmap faults); 0 = `bytes`. The quick probe keeps
  // them smaller than the memory figures, which must exceed the caches.
  std::uint64_t file_bytes = 0;
};

// All bandwidths in bytes per second; 0 when not measured on this backend.
struct ProbeResult {
  std::string device;        // "cpu" or "cuda"
  std::string device_name;   // Backend::name()
  std::string commit;        // filled by the caller
  std::string when;          // ISO 8601 UTC
  std::string host;          // host name of the machine measured
  std::uint64_t bytes = 0;   // transfer size used
  int repeats = 0;           // measurements per figure (the median is kept)
  double h2d_bps = 0;              // CUDA: pinned host -> device copy; CPU: RAM -> RAM memcpy
  double d2h_bps = 0;              // CUDA: device -> pinned host copy; CPU: the same memcpy, back
  double managed_prefetch_bps = 0; // CUDA: cudaMemPrefetchAsync to the device; CPU: WILLNEED + touch
  double fault_bps = 0;            // CUDA: fault-driven migration; CPU: mmap page-fault reads
  double device_bps = 0;           // CUDA: device copy kernel (read + write); CPU: RAM streaming read
  double disk_read_bps = 0;        // both: pread() of a file whose pages were dropped from the page cache
  double flops_per_s = 0;          // both: a large f32 GEMM (the BLAS of the backend), filled by the runtime
  // The largest relative spread (max - min) / median of the repeats of any figure above: how far a
  // run can honestly land above 1.0 of the bound by the probe's noise alone.
  double noise = 0;
  // The largest cache between the compute and its memory (CPU: the last-level cache; CUDA: L2).
  // Bytes up to this size may be served from it, so the memory term leaves them out (and, on the
  // CPU, whose link is a RAM copy, the link term too): a model that fits in the cache must not
  // score above 1.0 against RAM bandwidth.
  std::uint64_t cache_bytes = 0;
};

// Runs every measurement for the backend. Throws ResourceExhausted when the buffers do not fit.
ProbeResult run_probe(Backend& backend, const ProbeOptions& opt);

// The link of the bound, the same for every policy (DESIGN.md): the fastest way this machine moves
// bytes from host RAM to the compute device — a pinned host -> device copy on CUDA, a RAM -> RAM
// memcpy on the CPU. Bytes that were on disk are bound by disk_read_bps as well.
inline double link_bandwidth(const ProbeResult& p) { return p.h2d_bps; }

std::string probe_to_json(const ProbeResult& p);                        // pretty JSON text
ProbeResult probe_from_json(const std::string& text, const std::string& origin);  // BadInput if malformed
void save_probe(const ProbeResult& p, const std::string& path);          // BadInput if unwritable
ProbeResult load_probe(const std::string& path);                         // BadInput if missing/malformed

// Memory bandwidth of the compute device (bytes/s): the bound of reading resident weights.
inline double memory_bandwidth(const ProbeResult& p) { return p.device_bps; }

}  // namespace ferry
