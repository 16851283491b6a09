// The compute half of the probe: the FLOP rate of a large GEMM on the backend, the peak that the
// compute term of the bound divides a step's FLOPs by (runtime/bound.h). It runs the backend's
// BLAS through ops::linear (OpenBLAS sgemm on the CPU, cuBLASLt on CUDA), the same library the
// model's GEMMs use, at a size where the library is at its best, so the figure is the machine's
// peak for this kind of work rather than what ferry's layers achieve.
#pragma once
#include "base/backend.h"
#include "base/dtype.h"
#include "memory/probe.h"

namespace ferry {

// FLOP/s (a multiply-add is 2) of out[n, n] = x[n, n] . w[n, n]^T with weights of `wdt`, the median
// of `repeats` after a warm-up; the spread goes into `noise` (see ProbeResult::noise).
double measure_gemm_flops(Backend& backend, int n, DType wdt, int repeats, double& noise);

// Every figure of the probe: run_probe's bandwidths and the GEMM's FLOP rate (f32 weights on the
// CPU, f16 on CUDA, as the models run), with opt.repeats repeats.
ProbeResult probe_machine(Backend& backend, const ProbeOptions& opt);

}  // namespace ferry
