// The CUDA measurements of the bandwidth probe, each timed with CUDA events on one stream:
// pinned <-> device copies, cudaMemPrefetchAsync of managed memory to the device, fault-driven
// migration of managed pages read by a kernel, and a device copy kernel (read + write bytes).
// With memory/placement*, the only place that calls cudaMemPrefetchAsync (DESIGN.md).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "base/cuda_backend.h"
#include "base/error.h"
#include "base/units.h"
#include "memory/buffer.h"
#include "memory/probe_detail.h"

namespace ferry {

namespace {

constexpr int kThreads = 256;

// Reads every 16-byte word of [p, p + n) (grid-stride); the sum is written only when it equals a
// value it never takes in practice, so the reads cannot be optimised away and nothing is written.
__global__ void read_kernel(const uint4* p, std::size_t n, unsigned* sink) {
  unsigned acc = 0;
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    const uint4 v = p[i];
    acc ^= v.x + v.y + v.z + v.w;
  }
  if (acc == 0x9e3779b9u) *sink = acc;
}

// dst[i] = src[i] over n 16-byte words (grid-stride): the Copy kernel of McCalpin's STREAM
// benchmark (https://www.cs.virginia.edu/stream/), counting bytes read + bytes written.
__global__ void copy_kernel(uint4* dst, const uint4* src, std::size_t n) {
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x)
    dst[i] = src[i];
}

class ProbeStream {
 public:
  ProbeStream() { FERRY_CUDA(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking)); }
  ~ProbeStream() {
    if (s_) cudaStreamDestroy(s_);  // destructors never throw
  }
  ProbeStream(const ProbeStream&) = delete;
  ProbeStream& operator=(const ProbeStream&) = delete;
  cudaStream_t get() const { return s_; }
  void sync() const { FERRY_CUDA(cudaStreamSynchronize(s_)); }

 private:
  cudaStream_t s_ = nullptr;
};

class TimingEvent {
 public:
  TimingEvent() { FERRY_CUDA(cudaEventCreate(&e_)); }
  ~TimingEvent() {
    if (e_) cudaEventDestroy(e_);
  }
  TimingEvent(const TimingEvent&) = delete;
  TimingEvent& operator=(const TimingEvent&) = delete;
  cudaEvent_t get() const { return e_; }

 private:
  cudaEvent_t e_ = nullptr;
};

// Bytes per second of `bytes` moved by `work` on stream s, timed by events around it (median of
// `repeats`). `before` runs untimed ahead of each repeat (e.g. moving managed pages back to the host).
double measure(double& noise, const ProbeStream& s, std::uint64_t bytes, int repeats, const std::function<void()>& work,
               const std::function<void()>& before = {}) {
  TimingEvent start, stop;
  std::vector<double> v;
  for (int i = 0; i < repeats; ++i) {
    if (before) before();
    FERRY_CUDA(cudaEventRecord(start.get(), s.get()));
    work();
    FERRY_CUDA(cudaEventRecord(stop.get(), s.get()));
    FERRY_CUDA(cudaEventSynchronize(stop.get()));
    float ms = 0.f;
    FERRY_CUDA(cudaEventElapsedTime(&ms, start.get(), stop.get()));
    v.push_back(static_cast<double>(bytes) / std::max(static_cast<double>(ms) * 1e-3, 1e-9));
  }
  return median_noting_spread(v, noise);
}

cudaMemLocation host_location() {
  cudaMemLocation l{};
  l.type = cudaMemLocationTypeHost;
  l.id = 0;
  return l;
}

cudaMemLocation device_location(int device) {
  cudaMemLocation l{};
  l.type = cudaMemLocationTypeDevice;
  l.id = device;
  return l;
}

}  // namespace

void run_probe_cuda(const ProbeOptions& opt, ProbeResult& r) {
  int device = 0;
  FERRY_CUDA(cudaGetDevice(&device));
  std::size_t free_b = 0, total_b = 0;
  FERRY_CUDA(cudaMemGetInfo(&free_b, &total_b));
  // Never more than a quarter of the free device memory at once (DESIGN.md: managed memory is not
  // oversubscribed); every phase below holds at most r.bytes on the device.
  const std::size_t cap = free_b / 4 / kProbeGranule * kProbeGranule;
  if (cap < kProbeMinBytes)
    throw ResourceExhausted("probe: only " + format_bytes(free_b) + " of device memory is free; a quarter of it is " +
                            "below the " + format_bytes(kProbeMinBytes) + " the probe needs");
  const std::size_t n = std::min(static_cast<std::size_t>(r.bytes), cap);
  r.bytes = n;
  const std::size_t words = n / sizeof(uint4);
  int sms = 0;
  FERRY_CUDA(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  const unsigned grid = static_cast<unsigned>(std::max(1, sms) * 8);
  int l2 = 0;
  FERRY_CUDA(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, device));
  r.cache_bytes = static_cast<std::uint64_t>(std::max(l2, 0));
  Buffer sink = Buffer::allocate(DeviceKind::CUDA, BufferKind::Device, 256, 256);
  ProbeStream s;

  {  // pinned host <-> device copies: the `stream` tier
    Buffer host = Buffer::allocate(DeviceKind::CUDA, BufferKind::Pinned, n, 256);
    Buffer dev = Buffer::allocate(DeviceKind::CUDA, BufferKind::Device, n, 256);
    std::memset(host.data(), 0x5a, n);
    auto h2d = [&] { FERRY_CUDA(cudaMemcpyAsync(dev.data(), host.data(), n, cudaMemcpyHostToDevice, s.get())); };
    auto d2h = [&] { FERRY_CUDA(cudaMemcpyAsync(host.data(), dev.data(), n, cudaMemcpyDeviceToHost, s.get())); };
    h2d();  // warm-up
    d2h();
    s.sync();
    r.h2d_bps = measure(r.noise, s, n, opt.repeats, h2d);
    r.d2h_bps = measure(r.noise, s, n, opt.repeats, d2h);
  }

  {  // managed memory: explicit prefetch (`um-prefetch`) and on-demand faults (`um`)
    Buffer managed = Buffer::allocate(DeviceKind::CUDA, BufferKind::Managed, n, 256);
    std::memset(managed.data(), 0x5a, n);  // populates the pages on the host
    int concurrent = 0;
    FERRY_CUDA(cudaDeviceGetAttribute(&concurrent, cudaDevAttrConcurrentManagedAccess, device));
    const auto* words_ptr = static_cast<const uint4*>(managed.data());
    auto fault_read = [&] {
      read_kernel<<<grid, kThreads, 0, s.get()>>>(words_ptr, words, sink.as<unsigned>());
      FERRY_CUDA(cudaGetLastError());
    };
    if (concurrent) {
      auto to_host = [&] {
        FERRY_CUDA(cudaMemPrefetchAsync(managed.data(), n, host_location(), 0, s.get()));
        s.sync();
      };
      auto to_device = [&] { FERRY_CUDA(cudaMemPrefetchAsync(managed.data(), n, device_location(device), 0, s.get())); };
      to_device();  // warm-up: both directions once
      to_host();
      r.managed_prefetch_bps = measure(r.noise, s, n, opt.repeats, to_device, to_host);
      r.fault_bps = measure(r.noise, s, n, opt.repeats, fault_read, to_host);
      to_host();
    } else {
      // Without concurrent managed access the pages migrate when a kernel launches; the host
      // writing them (after a device synchronisation) moves them back between repeats.
      auto host_touch = [&] {
        FERRY_CUDA(cudaDeviceSynchronize());
        std::memset(managed.data(), 0x5a, n);
      };
      r.managed_prefetch_bps = 0;  // cudaMemPrefetchAsync is not available
      r.fault_bps = measure(r.noise, s, n, opt.repeats, fault_read, host_touch);
      FERRY_CUDA(cudaDeviceSynchronize());
    }
  }

  {  // device memory bandwidth: a copy kernel, bytes read + bytes written
    const std::size_t half = n / 2 / sizeof(uint4) * sizeof(uint4);
    Buffer a = Buffer::allocate(DeviceKind::CUDA, BufferKind::Device, half, 256);
    Buffer b = Buffer::allocate(DeviceKind::CUDA, BufferKind::Device, half, 256);
    FERRY_CUDA(cudaMemsetAsync(a.data(), 0x5a, half, s.get()));
    auto copy = [&] {
      copy_kernel<<<grid, kThreads, 0, s.get()>>>(b.as<uint4>(), a.as<const uint4>(), half / sizeof(uint4));
      FERRY_CUDA(cudaGetLastError());
    };
    copy();  // warm-up
    s.sync();
    r.device_bps = measure(r.noise, s, 2 * half, opt.repeats, copy);
  }
  s.sync();
}

}  // namespace ferry
