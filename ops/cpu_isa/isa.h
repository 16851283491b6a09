// Which of ops/cpu_isa/kernels.h's tables the CPU ops use. The best one the CPU (and its OS, which
// must save the wider registers) supports is chosen at the first call; set_cpu_isa() picks another
// (the conformance tests run every supported one; `FERRY_CPU_ISA=generic|avx2|avx512` in the
// environment does the same for a whole run, to compare paths).
#pragma once
#include <string>
#include <vector>

#include "ops/cpu_isa/kernels.h"

namespace ferry::ops::cpu {

enum class Isa : std::uint8_t { Generic, Avx2, Avx512 };

const char* isa_name(Isa isa);            // "generic", "avx2", "avx512"
std::vector<Isa> all_isas();              // every path this build has, plainest first
bool isa_supported(Isa isa);              // the CPU and the OS can run it
Isa best_isa();                           // the widest supported
Isa cpu_isa();                            // the one in use
void set_cpu_isa(Isa isa);                // BadInput when not supported
const Kernels& cpu_kernels();             // the table of cpu_isa()
// "avx512 (supported: generic avx2 avx512; AVX-512 BF16: yes)" — for reports.
std::string cpu_isa_description();

}  // namespace ferry::ops::cpu
