// The CPU matrix-vector kernels (ops/linear/matvec_cpu.cpp through ops/cpu_isa) against the memory
// bound, in one run: first the probe's memory read (memory/probe_detail.h, the figure every
// `ferry run` is bounded by), then one row x W for ferry's decode shapes, every weight dtype and
// every ISA path this CPU runs, then the memory read again. Each benchmark cycles through copies
// of W that together are at least 4x the last-level cache, so the weights come from RAM as in
// decode; then the prefill products (T = 64 and 512 rows through cpu::linear, GFLOP/s); then
// attention, prefill and decode, per ISA path (bm_attention_prefill, bm_attention_decode).
// Counters: GB/s (weight bytes read per second, 1e9) and of_bound (GB/s over the memory read
// taken before the kernels; above 1.0 means the probe under-measured the machine, or it drifted:
// the read after the kernels is printed beside it).
//
// Usage: ferry_kernels_bench [--threads=N] [google benchmark flags, e.g. --benchmark_out=F.json]
#include <benchmark/benchmark.h>
#include <omp.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "base/dtype.h"
#include "base/sysinfo.h"
#include "memory/probe_detail.h"
#include "ops/cpu.h"
#include "ops/cpu_isa/isa.h"
#include "ops/linear/linear_cpu.h"

namespace {

using ferry::DType;
using ferry::ops::WeightLayout;
namespace cpu = ferry::ops::cpu;

struct Shape {
  const char* name;
  std::int64_t k, n;
  WeightLayout layout;
};

// gpt2-large (KN, Conv1D), a LLaMA shape of its size (NK) and the two vocabulary heads (NK).
const Shape kShapes[] = {
    {"gpt2-large.c_attn", 1280, 3840, WeightLayout::KN},  {"gpt2-large.c_fc", 1280, 5120, WeightLayout::KN},
    {"gpt2-large.mlp.c_proj", 5120, 1280, WeightLayout::KN}, {"gpt2-large.head", 1280, 50257, WeightLayout::NK},
    {"llama-800m.qkv", 1536, 2560, WeightLayout::NK},     {"llama-800m.gate_up", 1536, 8192, WeightLayout::NK},
    {"llama-800m.down", 4096, 1536, WeightLayout::NK},    {"llama-800m.head", 1536, 32000, WeightLayout::NK},
};

double g_bound_bps = 0;

double memory_read_bps() {
  double noise = 0;
  const int threads = omp_get_max_threads();
  return ferry::measure_memory_read(std::size_t{256} << 20, threads, 5, noise);
}

// Copies of one random W (shape s, stored as dt) that together are at least 4x the last-level
// cache, so that cycling through them reads the weights from RAM, as decode does.
struct ColdWeights {
  std::vector<std::vector<std::byte>> copies;
  DType dtype = DType::F32;
  ferry::Shape shape;
  std::size_t bytes = 0;
  ferry::TensorView view(std::size_t i) const { return {copies[i % copies.size()].data(), dtype, shape}; }
};

ColdWeights cold_weights(const Shape& s, DType dt, std::mt19937& rng) {
  ColdWeights cw;
  const std::size_t elems = static_cast<std::size_t>(s.k * s.n);
  cw.dtype = dt;
  cw.bytes = elems * ferry::dtype_size(dt);
  cw.shape = s.layout == WeightLayout::KN ? ferry::Shape{s.k, s.n} : ferry::Shape{s.n, s.k};
  const std::uint64_t cold = 4 * ferry::last_level_cache_bytes();
  const std::size_t n = std::max<std::size_t>(2, static_cast<std::size_t>((cold + cw.bytes - 1) / cw.bytes));
  std::uniform_real_distribution<float> u(-0.05f, 0.05f);
  std::vector<float> one(elems);
  for (float& v : one) v = u(rng);
  cw.copies.assign(n, std::vector<std::byte>(cw.bytes));
  for (auto& c : cw.copies) ferry::convert(one.data(), DType::F32, c.data(), dt, elems);
  return cw;
}

void bm_matvec(benchmark::State& st, Shape s, DType dt, cpu::Isa isa) {
  cpu::set_cpu_isa(isa);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-0.05f, 0.05f);
  const ColdWeights w = cold_weights(s, dt, rng);
  const std::size_t bytes = w.bytes;
  std::vector<float> x(static_cast<std::size_t>(s.k)), y(static_cast<std::size_t>(s.n));
  for (float& v : x) v = u(rng);
  std::vector<float> scratch(std::size_t{4} << 20);
  std::size_t i = 0;
  for (auto _ : st) {
    cpu::detail::matvec(x.data(), w.view(i++), s.layout, ferry::TensorView{}, ferry::ops::Activation::None, y.data(),
                        cpu::Scratch{scratch.data(), scratch.size()});
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  const double rate = static_cast<double>(st.iterations()) * static_cast<double>(bytes);
  st.counters["GB/s"] = benchmark::Counter(rate / 1e9, benchmark::Counter::kIsRate);
  st.counters["of_bound"] = benchmark::Counter(rate / g_bound_bps, benchmark::Counter::kIsRate);
  st.SetLabel(cpu::isa_name(isa));
}

// Prefill: T rows through cpu::linear (sgemm; 16-bit weights widened band by band into the
// scratch), GFLOP/s, the weights read from cache-cold copies (cold_weights).
void bm_linear(benchmark::State& st, Shape s, DType dt, std::int64_t rows) {
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> u(-0.05f, 0.05f);
  const ColdWeights w = cold_weights(s, dt, rng);
  std::vector<float> x(static_cast<std::size_t>(rows * s.k)), y(static_cast<std::size_t>(rows * s.n));
  for (float& v : x) v = u(rng);
  std::vector<float> scratch(std::size_t{4} << 20);
  std::size_t i = 0;
  for (auto _ : st) {
    cpu::linear(ferry::TensorView(x.data(), DType::F32, ferry::Shape{rows, s.k}), w.view(i++),
                s.layout, ferry::TensorView{}, ferry::ops::Activation::None,
                ferry::TensorView(y.data(), DType::F32, ferry::Shape{rows, s.n}), cpu::Scratch{scratch.data(), scratch.size()});
    benchmark::ClobberMemory();
  }
  st.counters["GFLOP/s"] = benchmark::Counter(2.0 * static_cast<double>(rows * s.k * s.n) * static_cast<double>(st.iterations()) / 1e9,
                                              benchmark::Counter::kIsRate);
}

// Attention on gpt2-large's geometry (20 heads of 64) and llama-800m's (12 query heads, 4 KV heads,
// 128 wide), every ISA path. Prefill: one sequence of T tokens through cpu::attention_prefill
// (pairs/s counts the causal (query, key) pairs of all heads). Decode: one row against a cache of
// `depth` keys for each of 36 layers in turn, as a decode step reads them (GB/s: cache bytes read).
struct AttnShape {
  const char* name;
  int heads, kv_heads, head_dim;
};
const AttnShape kAttnShapes[] = {{"gpt2-large", 20, 20, 64}, {"llama-800m", 12, 4, 128}};
constexpr int kLayers = 36;

ferry::ops::AttentionShape attention_shape(const AttnShape& a) {
  return {a.heads, a.kv_heads, a.head_dim, 1.0f / std::sqrt(static_cast<float>(a.head_dim))};
}

void bm_attention_prefill(benchmark::State& st, AttnShape a, std::int64_t tokens, cpu::Isa isa) {
  cpu::set_cpu_isa(isa);
  const std::int64_t width = static_cast<std::int64_t>(a.heads + 2 * a.kv_heads) * a.head_dim;
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> qkv(static_cast<std::size_t>(tokens * width)), out(static_cast<std::size_t>(tokens * a.heads * a.head_dim));
  for (float& v : qkv) v = u(rng);
  std::vector<std::int32_t> off{0, static_cast<std::int32_t>(tokens)};
  const ferry::TensorView q(qkv.data(), DType::F32, ferry::Shape{tokens, width});
  const ferry::TensorView o(out.data(), DType::F32, ferry::Shape{tokens, static_cast<std::int64_t>(a.heads) * a.head_dim});
  const ferry::TensorView offsets(off.data(), DType::I32, ferry::Shape{2});
  for (auto _ : st) {
    cpu::attention_prefill(q, offsets, attention_shape(a), o);
    benchmark::ClobberMemory();
  }
  const double pairs = static_cast<double>(tokens) * static_cast<double>(tokens + 1) / 2.0 * a.heads;
  st.counters["pairs/s"] = benchmark::Counter(pairs * static_cast<double>(st.iterations()), benchmark::Counter::kIsRate);
  st.SetLabel(cpu::isa_name(isa));
}

void bm_attention_decode(benchmark::State& st, AttnShape a, std::int64_t depth, cpu::Isa isa) {
  cpu::set_cpu_isa(isa);
  const std::int64_t kv_width = static_cast<std::int64_t>(a.kv_heads) * a.head_dim;
  const std::int64_t width = static_cast<std::int64_t>(a.heads) * a.head_dim + 2 * kv_width;
  std::mt19937 rng(4);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> qkv(static_cast<std::size_t>(width)), out(static_cast<std::size_t>(a.heads * a.head_dim));
  for (float& v : qkv) v = u(rng);
  const std::size_t layer = static_cast<std::size_t>(depth * kv_width);
  std::vector<std::vector<float>> k(kLayers, std::vector<float>(layer)), v(kLayers, std::vector<float>(layer));
  for (int l = 0; l < kLayers; ++l)
    for (std::size_t i = 0; i < layer; ++i) {
      k[l][i] = u(rng);
      v[l][i] = u(rng);
    }
  std::int32_t seq = 0, len = static_cast<std::int32_t>(depth);
  const ferry::Shape cs{1, depth, kv_width};
  std::size_t i = 0;
  for (auto _ : st) {
    const std::size_t l = i++ % kLayers;
    cpu::attention_decode(ferry::TensorView(qkv.data(), DType::F32, ferry::Shape{1, width}),
                          ferry::TensorView(k[l].data(), DType::F32, cs), ferry::TensorView(v[l].data(), DType::F32, cs),
                          ferry::TensorView(&seq, DType::I32, ferry::Shape{1}), ferry::TensorView(&len, DType::I32, ferry::Shape{1}),
                          attention_shape(a), ferry::TensorView(out.data(), DType::F32, ferry::Shape{1, static_cast<std::int64_t>(a.heads) * a.head_dim}));
    benchmark::ClobberMemory();
  }
  const double bytes = 2.0 * static_cast<double>(layer) * sizeof(float);
  st.counters["GB/s"] = benchmark::Counter(bytes * static_cast<double>(st.iterations()) / 1e9, benchmark::Counter::kIsRate);
  st.SetLabel(cpu::isa_name(isa));
}

void register_attention() {
  for (const AttnShape& a : kAttnShapes)
    for (cpu::Isa isa : cpu::all_isas()) {
      if (!cpu::isa_supported(isa)) continue;
      for (std::int64_t t : {64, 512}) {
        const std::string name = std::string("attention_prefill/") + a.name + "/T" + std::to_string(t) + "/" + cpu::isa_name(isa);
        benchmark::RegisterBenchmark(name.c_str(), bm_attention_prefill, a, t, isa)->Unit(benchmark::kMillisecond)->UseRealTime();
      }
      for (std::int64_t depth : {64, 512, 2048}) {
        const std::string name = std::string("attention_decode/") + a.name + "/depth" + std::to_string(depth) + "/" + cpu::isa_name(isa);
        benchmark::RegisterBenchmark(name.c_str(), bm_attention_decode, a, depth, isa)->Unit(benchmark::kMicrosecond)->UseRealTime();
      }
    }
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 0;
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--threads=", 10) == 0)
      threads = std::atoi(argv[i] + 10);
    else
      rest.push_back(argv[i]);
  }
  if (threads > 0) omp_set_num_threads(threads);
  const double before = memory_read_bps();
  for (const Shape& s : kShapes)
    for (DType dt : {DType::F32, DType::F16, DType::BF16})
      for (cpu::Isa isa : cpu::all_isas()) {
        if (!cpu::isa_supported(isa)) {
          std::fprintf(stderr, "skipped: the %s path (this CPU: %s)\n", cpu::isa_name(isa), cpu::cpu_isa_description().c_str());
          continue;
        }
        const std::string name = std::string(s.name) + "/" + ferry::dtype_name(dt) + "/" + cpu::isa_name(isa);
        benchmark::RegisterBenchmark(name.c_str(), bm_matvec, s, dt, isa)->Unit(benchmark::kMillisecond)->UseRealTime();
      }
  for (const Shape& s : kShapes) {
    if (std::strstr(s.name, "head") != nullptr) continue;  // prefill runs the head on the last row only
    for (std::int64_t rows : {64, 512})
      for (DType dt : {DType::F32, DType::F16, DType::BF16}) {
        const std::string name = std::string("prefill/") + s.name + "/T" + std::to_string(rows) + "/" + ferry::dtype_name(dt);
        benchmark::RegisterBenchmark(name.c_str(), bm_linear, s, dt, rows)->Unit(benchmark::kMillisecond)->UseRealTime();
      }
  }
  register_attention();
  int n = static_cast<int>(rest.size());
  benchmark::Initialize(&n, rest.data());
  g_bound_bps = before;  // of_bound against the read before; the context records both
  benchmark::AddCustomContext("memory_read_before_GBps", std::to_string(before / 1e9));
  benchmark::AddCustomContext("threads", std::to_string(omp_get_max_threads()));
  benchmark::RunSpecifiedBenchmarks();
  const double after = memory_read_bps();
  std::printf("memory read (probe method): %.2f GB/s before, %.2f GB/s after the kernels\n", before / 1e9, after / 1e9);
  benchmark::Shutdown();
  return 0;
}
