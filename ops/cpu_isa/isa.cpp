#include "ops/cpu_isa/isa.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "base/error.h"

namespace ferry::ops::cpu {
namespace {

#if defined(__x86_64__)
// F16C (CPUID leaf 1, ECX bit 29: Intel SDM vol. 2A, CPUID): read directly, since clang's
// __builtin_cpu_supports does not know the name. Its registers are AVX's, which avx2 checks.
bool has_f16c() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  return __get_cpuid(1, &a, &b, &c, &d) != 0 && (c & (1u << 29)) != 0;
}
#endif

// __builtin_cpu_supports reads CPUID and, for the AVX and AVX-512 features, checks with XGETBV that
// the OS saves the registers (libgcc's and compiler-rt's cpuinfo).
bool cpu_has(Isa isa) {
#if defined(__x86_64__)
  switch (isa) {
    case Isa::Generic:
      return true;
    case Isa::Avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && has_f16c();
    case Isa::Avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl");
  }
  return false;
#else
  return isa == Isa::Generic;
#endif
}

Isa from_env_or_best() {
  if (const char* e = std::getenv("FERRY_CPU_ISA"); e != nullptr && *e != '\0') {
    for (Isa i : all_isas())
      if (std::strcmp(e, isa_name(i)) == 0 && cpu_has(i)) return i;
    throw BadInput(std::string("FERRY_CPU_ISA=") + e + ": not a path this CPU runs (" + cpu_isa_description() + ")");
  }
  return best_isa();
}

std::atomic<int> g_isa{-1};

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Generic:
      return "generic";
    case Isa::Avx2:
      return "avx2";
    case Isa::Avx512:
      return "avx512";
  }
  return "unknown";
}

std::vector<Isa> all_isas() {
#if defined(__x86_64__)
  return {Isa::Generic, Isa::Avx2, Isa::Avx512};
#else
  return {Isa::Generic};
#endif
}

bool isa_supported(Isa isa) { return cpu_has(isa); }

Isa best_isa() {
  Isa best = Isa::Generic;
  for (Isa i : all_isas())
    if (cpu_has(i)) best = i;
  return best;
}

Isa cpu_isa() {
  int v = g_isa.load(std::memory_order_acquire);
  if (v < 0) {
    v = static_cast<int>(from_env_or_best());
    g_isa.store(v, std::memory_order_release);
  }
  return static_cast<Isa>(v);
}

void set_cpu_isa(Isa isa) {
  if (!cpu_has(isa)) throw BadInput(std::string("CPU path ") + isa_name(isa) + " is not supported here (" + cpu_isa_description() + ")");
  g_isa.store(static_cast<int>(isa), std::memory_order_release);
}

const Kernels& cpu_kernels() {
  switch (cpu_isa()) {
#if defined(__x86_64__)
    case Isa::Avx512:
      return kAvx512Kernels;
    case Isa::Avx2:
      return kAvx2Kernels;
#endif
    default:
      return kGenericKernels;
  }
}

std::string cpu_isa_description() {
  std::string s = std::string(isa_name(g_isa.load() < 0 ? best_isa() : static_cast<Isa>(g_isa.load()))) + " (supported:";
  for (Isa i : all_isas())
    if (cpu_has(i)) s += std::string(" ") + isa_name(i);
  return s + ")";
}

}  // namespace ferry::ops::cpu
