// Where a CPU step's time goes, op by op: each op that runs on a CpuStream is timed on that
// stream's thread (steady clock around the op) while profiling is on. Process-wide; off by
// default, and off it costs one relaxed atomic load per op. `ferry run --report` turns it on and
// prints each op's share of the prefill and of the decode steps. CUDA ops are not timed here (the
// kernels run asynchronously; the layer report's compute time covers them).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ferry::ops {

struct OpTime {
  std::string op;       // the entry point's name: "linear", "attention_decode", ...
  double seconds = 0;   // summed over the calls
  std::int64_t calls = 0;
};

void set_cpu_op_profiling(bool on);
bool cpu_op_profiling();
void reset_cpu_op_profile();
std::vector<OpTime> cpu_op_profile();  // since the last reset, longest first

// Adds one call of `op` (a string literal) lasting `seconds` (used by ops/dispatch.cpp).
void record_cpu_op(const char* op, double seconds);

}  // namespace ferry::ops
