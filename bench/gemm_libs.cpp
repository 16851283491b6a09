// Single-precision GEMM of ferry's prefill shapes, through one BLAS library (chosen when this file
// is compiled: see bench/record-gemm-libs, which builds it once per library and runs them side by
// side). Each product is y[T, N] = x[T, K] · W with W stored as the models store it: NK (w[N, K],
// nn.Linear, LLaMA) or KN (w[K, N], GPT-2's Conv1D). After each product an OpenMP pass over y
// (the bias/activation epilogue ferry runs there) makes the library share the cores with an
// OpenMP pool, as it does inside ferry: a library whose own threads spin after returning pays
// for it here.
//
// Usage: gemm_libs THREADS REPEATS   (prints CSV: lib,shape,layout,T,K,N,ms_min,ms_median,gflops)
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#if defined(FERRY_GEMM_DNNL)
#include <oneapi/dnnl/dnnl.h>
#else
#include <cblas.h>
#endif

#ifndef FERRY_GEMM_LIB
#define FERRY_GEMM_LIB "unknown"
#endif

namespace {

struct Shape {
  const char* name;
  long k, n;
  bool nk;
};

// gpt2-large (hidden 1280, KN) and a LLaMA shape of similar size (hidden 1536, ffn 4096, GQA 12/4
// heads of 128, NK); the vocabulary heads are the prefill's last-row products and are left out.
const Shape kShapes[] = {
    {"gpt2-large c_attn", 1280, 3840, false}, {"gpt2-large c_proj", 1280, 1280, false},
    {"gpt2-large c_fc", 1280, 5120, false},   {"gpt2-large mlp.c_proj", 5120, 1280, false},
    {"llama-800m qkv", 1536, 2560, true},      {"llama-800m o", 1536, 1536, true},
    {"llama-800m gate_up", 1536, 8192, true},  {"llama-800m down", 4096, 1536, true},
};

void gemm(long t, const Shape& s, const float* x, const float* w, float* y) {
#if defined(FERRY_GEMM_DNNL)
  // dnnl_sgemm is row-major: C[M, N] = op(A)[M, K] op(B)[K, N].
  dnnl_sgemm('N', s.nk ? 'T' : 'N', t, s.n, s.k, 1.0f, x, s.k, w, s.nk ? s.k : s.n, 0.0f, y, s.n);
#else
  cblas_sgemm(CblasRowMajor, CblasNoTrans, s.nk ? CblasTrans : CblasNoTrans, static_cast<int>(t),
              static_cast<int>(s.n), static_cast<int>(s.k), 1.0f, x, static_cast<int>(s.k), w,
              static_cast<int>(s.nk ? s.k : s.n), 0.0f, y, static_cast<int>(s.n));
#endif
}

void epilogue(float* y, long n) {
#pragma omp parallel for schedule(static)
  for (long i = 0; i < n; ++i) y[i] = y[i] > 0.0f ? y[i] : 0.01f * y[i];
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 5;
  omp_set_num_threads(threads);
  std::printf("lib,shape,layout,T,K,N,ms_min,ms_median,gflops_median\n");
  for (long t : {64L, 512L}) {
    for (const Shape& s : kShapes) {
      std::vector<float> x(static_cast<size_t>(t * s.k)), w(static_cast<size_t>(s.k * s.n)), y(static_cast<size_t>(t * s.n));
      for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 7919) % 1000) * 1e-3f - 0.5f;
      for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>((i * 104729) % 1000) * 1e-3f - 0.5f;
      gemm(t, s, x.data(), w.data(), y.data());  // warm-up (and the library's first-call setup)
      std::vector<double> ms;
      for (int r = 0; r < repeats; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        gemm(t, s, x.data(), w.data(), y.data());
        epilogue(y.data(), t * s.n);
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
      std::sort(ms.begin(), ms.end());
      const double med = ms[ms.size() / 2];
      const double gflops = 2.0 * static_cast<double>(t) * static_cast<double>(s.k) * static_cast<double>(s.n) / (med * 1e6);
      std::printf("%s,%s,%s,%ld,%ld,%ld,%.3f,%.3f,%.1f\n", FERRY_GEMM_LIB, s.name, s.nk ? "NK" : "KN", t, s.k, s.n,
                  ms.front(), med, gflops);
      std::fflush(stdout);
    }
  }
  return 0;
}
