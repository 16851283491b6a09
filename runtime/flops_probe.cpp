// measure_gemm_flops: see flops_probe.h.
#include "runtime/flops_probe.h"

#include <chrono>
#include <vector>

#include "memory/buffer.h"
#include "memory/probe_detail.h"
#include "ops/ops.h"

namespace ferry {

double measure_gemm_flops(Backend& backend, int n, DType wdt, int repeats, double& noise) {
  const DeviceKind d = backend.kind();
  const auto elems = static_cast<std::size_t>(n) * static_cast<std::size_t>(n);
  Buffer x = Buffer::allocate(d, BufferKind::Device, elems * sizeof(float), 256);
  Buffer w = Buffer::allocate(d, BufferKind::Device, elems * dtype_size(wdt), 256);
  Buffer y = Buffer::allocate(d, BufferKind::Device, elems * sizeof(float), 256);
  // Any finite values do: small integers in every dtype's bit pattern (0x3c00 = 1.0 in f16).
  std::vector<std::byte> host(std::max(elems * sizeof(float), elems * dtype_size(wdt)), std::byte{0});
  auto s = backend.create_stream(0);
  backend.memcpy_async(x.data(), host.data(), x.size(), *s);
  backend.memcpy_async(w.data(), host.data(), w.size(), *s);
  const Shape sq{n, n};
  const TensorView xv(x.data(), DType::F32, sq, d), wv(w.data(), wdt, sq, d), yv(y.data(), DType::F32, sq, d);
  auto gemm = [&] { ops::linear(*s, xv, wv, ops::WeightLayout::NK, TensorView(), ops::Activation::None, yv); };
  gemm();  // warm-up: thread pools, cuBLASLt heuristics
  s->synchronize();
  std::vector<double> rates;
  const double flops = 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n);
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    gemm();
    s->synchronize();
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rates.push_back(flops / std::max(sec, 1e-9));
  }
  return median_noting_spread(rates, noise);
}

ProbeResult probe_machine(Backend& backend, const ProbeOptions& opt) {
  ProbeResult r = run_probe(backend, opt);
  const bool cuda = backend.kind() == DeviceKind::CUDA;
  // Large enough for the BLAS to reach its peak: 17 GFLOP on the CPU, 1.1 TFLOP on a GPU.
  r.flops_per_s = measure_gemm_flops(backend, cuda ? 8192 : 2048, cuda ? DType::F16 : DType::F32, opt.repeats, r.noise);
  return r;
}

}  // namespace ferry
