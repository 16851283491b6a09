// Bandwidth probe: option checks, the CPU measurements, the policy -> link mapping and the JSON
// form. The CUDA measurements live in probe_cuda.cu.
#include "memory/probe.h"

#include <unistd.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <vector>

#include "base/cpu_backend.h"
#include "base/error.h"
#include "base/sysinfo.h"
#include "base/units.h"
#include "memory/buffer.h"
#include "memory/mapped_file.h"
#include "memory/probe_detail.h"

namespace ferry {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// bytes / seconds, guarding against a clock that did not advance.
double rate(std::uint64_t bytes, double s) { return static_cast<double>(bytes) / std::max(s, 1e-9); }

std::string host_name() {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) return "unknown";
  return host;
}

std::atomic<std::uint64_t> read_sink{0};

// Sums the 64-bit words of [p, p + n): a loop the compiler vectorises, so the figure is the
// memory's read bandwidth rather than the adder's (a read-only cousin of the STREAM kernels,
// McCalpin, https://www.cs.virginia.edu/stream/).
std::uint64_t sum_words(const std::uint64_t* p, std::size_t n) {
  std::uint64_t a = 0, b = 0, c = 0, d = 0;
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    a += p[i];
    b += p[i + 1];
    c += p[i + 2];
    d += p[i + 3];
  }
  for (; i < n; ++i) a += p[i];
  return a + b + c + d;
}

#if defined(__x86_64__)
// The same sum with the widest loads the CPU has, each function compiled for its ISA alone (GCC's
// target attribute) and called only where __builtin_cpu_supports finds it. The width matters: a
// core keeps a bounded number of loads in flight, so 16-byte loads leave lines unrequested that
// 64-byte ones fetch, and the SSE2 sum measured 25-35% below what ferry's AVX-512 kernels read on
// the same machine (bench/results/cpu/kernels-epyc).
__attribute__((target("avx2"))) std::uint64_t sum_words_avx2(const std::uint64_t* p, std::size_t n) {
  __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    a = _mm256_add_epi64(a, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)));
    b = _mm256_add_epi64(b, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 4)));
    c = _mm256_add_epi64(c, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 8)));
    d = _mm256_add_epi64(d, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 12)));
  }
  alignas(32) std::uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), _mm256_add_epi64(_mm256_add_epi64(a, b), _mm256_add_epi64(c, d)));
  std::uint64_t sum = lanes[0] + lanes[1] + lanes[2] + lanes[3];
  for (; i < n; ++i) sum += p[i];
  return sum;
}

__attribute__((target("avx512f"))) std::uint64_t sum_words_avx512(const std::uint64_t* p, std::size_t n) {
  __m512i a = _mm512_setzero_si512(), b = a, c = a, d = a;
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a = _mm512_add_epi64(a, _mm512_loadu_si512(p + i));
    b = _mm512_add_epi64(b, _mm512_loadu_si512(p + i + 8));
    c = _mm512_add_epi64(c, _mm512_loadu_si512(p + i + 16));
    d = _mm512_add_epi64(d, _mm512_loadu_si512(p + i + 24));
  }
  alignas(64) std::uint64_t lanes[8];
  _mm512_store_si512(lanes, _mm512_add_epi64(_mm512_add_epi64(a, b), _mm512_add_epi64(c, d)));
  std::uint64_t sum = 0;
  for (std::uint64_t l : lanes) sum += l;
  for (; i < n; ++i) sum += p[i];
  return sum;
}
#endif

using SumFn = std::uint64_t (*)(const std::uint64_t*, std::size_t);

// The widest of the sums above this CPU runs.
SumFn widest_sum() {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx512f")) return sum_words_avx512;
  if (__builtin_cpu_supports("avx2")) return sum_words_avx2;
#endif
  return sum_words;
}

// Reads the words [b, e) of `base` in `streams` interleaved streams: the range is cut into that
// many equal parts and one block of each part is read in turn, so that several sequential streams
// are in flight at once, as in a matrix-vector product that walks several weight rows together.
std::uint64_t sum_streams(SumFn sum_fn, const std::uint64_t* base, std::size_t b, std::size_t e, std::size_t streams) {
  if (streams == 1) return sum_fn(base + b, e - b);
  constexpr std::size_t kBlock = 64;  // words per stream per turn: 512 bytes, 8 cache lines
  const std::size_t part = (e - b) / streams;
  std::uint64_t sum = 0;
  std::size_t off = 0;
  for (; off + kBlock <= part; off += kBlock)
    for (std::size_t s = 0; s < streams; ++s) sum += sum_fn(base + b + s * part + off, kBlock);
  for (std::size_t s = 0; s < streams; ++s) sum += sum_fn(base + b + s * part + off, part - off);
  return sum + sum_fn(base + b + streams * part, e - b - streams * part);
}

// Streaming read of `bytes` bytes at p, then at q, by `threads` threads, each reading its share
// of both in `streams` streams (seconds). Two buffers read in turn miss the caches even when one
// alone would fit.
double timed_parallel_read(SumFn sum_fn, const std::byte* p, const std::byte* q, std::size_t bytes, int threads,
                           std::size_t streams) {
  const std::size_t words = bytes / sizeof(std::uint64_t);
  const auto* wp = reinterpret_cast<const std::uint64_t*>(p);
  const auto* wq = reinterpret_cast<const std::uint64_t*>(q);
  const auto t = static_cast<std::size_t>(threads);
  std::vector<std::uint64_t> partial(t, 0);
  std::vector<std::thread> pool;
  pool.reserve(t);
  const auto t0 = Clock::now();
  for (std::size_t i = 0; i < t; ++i) {
    const std::size_t b = words * i / t, e = words * (i + 1) / t;
    pool.emplace_back([=, &partial] {
      partial[i] = sum_streams(sum_fn, wp, b, e, streams) + sum_streams(sum_fn, wq, b, e, streams);
    });
  }
  for (auto& th : pool) th.join();
  const double s = seconds_between(t0, Clock::now());
  std::uint64_t total = 0;
  for (std::uint64_t x : partial) total += x;
  read_sink.store(total, std::memory_order_relaxed);  // keeps the reads from being optimised away
  return s;
}

int cpu_threads(const Backend& backend) {
  if (const auto* cpu = dynamic_cast<const CpuBackend*>(&backend)) return std::max(1, cpu->threads());
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

void run_probe_cpu(Backend& backend, const ProbeOptions& opt, ProbeResult& r) {
  const std::size_t n = static_cast<std::size_t>(r.bytes);
  const DeviceMemoryInfo mem = backend.memory_info();
  if (mem.free_bytes > 0 && 2 * n > mem.free_bytes / 2)
    throw ResourceExhausted("--bytes: the probe needs 2 x " + format_bytes(n) + " of RAM, more than half of the " +
                            format_bytes(mem.free_bytes) + " available");
  Buffer a = Buffer::allocate(DeviceKind::CPU, BufferKind::Host, n);
  Buffer b = Buffer::allocate(DeviceKind::CPU, BufferKind::Host, n);
  std::memset(a.data(), 0x5a, n);  // first touch, so page faults are not timed below
  std::memset(b.data(), 0xa5, n);

  // RAM -> RAM copy on a copy stream: the `stream` tier's fetch.
  auto s = backend.create_stream(1);
  auto copy_rate = [&](void* dst, const void* src) {
    backend.memcpy_async(dst, src, n, *s);  // warm-up
    s->synchronize();
    std::vector<double> v;
    for (int i = 0; i < opt.repeats; ++i) {
      const auto t0 = Clock::now();
      backend.memcpy_async(dst, src, n, *s);
      s->synchronize();
      v.push_back(rate(n, seconds_between(t0, Clock::now())));
    }
    return median_noting_spread(v, r.noise);
  };
  r.h2d_bps = copy_rate(b.data(), a.data());
  r.d2h_bps = copy_rate(a.data(), b.data());

  // Streaming read of RAM by the compute threads, many streams each: the resident bound. The two
  // buffers together are at least four times the last-level cache, so no pass is served from it.
  b = Buffer();
  r.device_bps = measure_memory_read(n, cpu_threads(backend), opt.repeats, r.noise);

  // The disk and mmap tiers: an unnamed file, written once and dropped from the process and the
  // page cache (as the placements evict), then read back by pread (the disk tier), by page faults
  // (um) or by WILLNEED + touch (um-prefetch).
  const std::size_t fn = opt.file_bytes > 0 ? std::min(n, static_cast<std::size_t>(align_up(opt.file_bytes, kProbeGranule))) : n;
  MappedFile f = MappedFile::create_temp(opt.scratch_dir, fn);
  std::memcpy(f.data(), a.data(), fn);
  f.advise_dontneed(0, fn);  // writes the pages back, then drops them
  r.disk_read_bps = measure_disk_read(f, a.bytes_ptr(), fn, opt.repeats, r.noise);
  a = Buffer();
  std::vector<double> fault, prefetch;
  for (int i = 0; i < opt.repeats; ++i) {
    f.advise_dontneed(0, fn);
    auto t0 = Clock::now();
    f.touch(0, fn);
    fault.push_back(rate(fn, seconds_between(t0, Clock::now())));
    f.advise_dontneed(0, fn);
    t0 = Clock::now();
    f.advise_willneed(0, fn);
    f.touch(0, fn);
    prefetch.push_back(rate(fn, seconds_between(t0, Clock::now())));
  }
  f.advise_dontneed(0, fn);
  r.fault_bps = median_noting_spread(fault, r.noise);
  r.managed_prefetch_bps = median_noting_spread(prefetch, r.noise);
}

// JSON field helpers for probe_from_json: every message names the origin and the key.
double read_bps(const nlohmann::json& j, const char* key, const std::string& origin) {
  if (!j.contains(key)) throw BadInput(origin + ": key '" + key + "' is missing");
  const nlohmann::json& v = j.at(key);
  if (!v.is_number()) throw BadInput(origin + ": key '" + key + "' must be a number (bytes per second)");
  const double x = v.get<double>();
  if (!std::isfinite(x) || x < 0)
    throw BadInput(origin + ": key '" + key + "' must be a finite number >= 0, got " + v.dump());
  return x;
}

std::string read_string(const nlohmann::json& j, const char* key, const std::string& origin) {
  if (!j.contains(key)) return "";
  const nlohmann::json& v = j.at(key);
  if (!v.is_string()) throw BadInput(origin + ": key '" + key + "' must be a string");
  return v.get<std::string>();
}

// CUDA's disk tier reads into pinned staging buffers on the host: the same pread of a dropped file.
[[maybe_unused]] void measure_disk_for_cuda(const ProbeOptions& opt, ProbeResult& r) {
  const std::size_t fn = static_cast<std::size_t>(align_up(opt.file_bytes > 0 ? opt.file_bytes : r.bytes, kProbeGranule));
  Buffer dst = Buffer::allocate(DeviceKind::CPU, BufferKind::Host, fn);
  std::memset(dst.data(), 0x3c, fn);
  MappedFile f = MappedFile::create_temp(opt.scratch_dir, fn);
  std::memcpy(f.data(), dst.data(), fn);
  f.advise_dontneed(0, fn);
  r.disk_read_bps = measure_disk_read(f, dst.bytes_ptr(), fn, opt.repeats, r.noise);
}

}  // namespace

// Read bandwidth of RAM (bytes/s), the resident bound: `threads` threads (every core the run
// computes with) read two buffers of max(n, 2 x LLC) bytes each, so that no pass is served from
// the last-level cache, with the widest vector loads the CPU has (widest_sum) and 1, 4, 8 and 16
// sequential streams per thread in turn (kProbeStreams: 8 is what the NK decode kernel reads,
// ops/cpu_isa/kernel_table.h); the figure is the best of the medians. Which count a memory system
// serves best varies (ferry issue 11 measured 15.5 GB/s with one stream and 17-22 GB/s with many on one VM; on
// another, one stream was fastest): a kernel walking weight rows reaches the best of them, so
// a bound below it would let a run score above 1.0.
double measure_memory_read(std::size_t n, int threads, int repeats, double& noise) {
  const std::size_t m = std::max(n, static_cast<std::size_t>(align_up(2 * last_level_cache_bytes(), kProbeGranule)));
  Buffer a = Buffer::allocate(DeviceKind::CPU, BufferKind::Host, m);
  Buffer b = Buffer::allocate(DeviceKind::CPU, BufferKind::Host, m);
  std::memset(a.data(), 0x5a, m);  // first touch, so page faults are not timed
  std::memset(b.data(), 0xa5, m);
  const SumFn sum_fn = widest_sum();
  double best = 0;
  for (const std::size_t streams : kProbeStreams) {
    (void)timed_parallel_read(sum_fn, a.bytes_ptr(), b.bytes_ptr(), m, threads, streams);  // warm-up
    std::vector<double> v;
    for (int i = 0; i < repeats; ++i)
      v.push_back(rate(2 * m, timed_parallel_read(sum_fn, a.bytes_ptr(), b.bytes_ptr(), m, threads, streams)));
    best = std::max(best, median_noting_spread(v, noise));
  }
  return best;
}

double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

double median_noting_spread(std::vector<double> v, double& noise) {
  const double m = median_of(v);
  if (m > 0 && !v.empty()) {
    const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    noise = std::max(noise, (*hi - *lo) / m);
  }
  return m;
}

double measure_disk_read(const MappedFile& f, std::byte* dst, std::size_t n, int repeats, double& noise) {
  std::vector<double> v;
  for (int i = 0; i < repeats; ++i) {
    f.drop_cache(0, n);
    const auto t0 = Clock::now();
    (void)f.pread_into(dst, 0, n);
    v.push_back(rate(n, seconds_between(t0, Clock::now())));
  }
  f.drop_cache(0, n);
  return median_noting_spread(v, noise);
}

ProbeResult run_probe(Backend& backend, const ProbeOptions& opt) {
  if (opt.repeats < 1 || opt.repeats > 1000)
    throw BadInput("--repeats: must be between 1 and 1000, got " + std::to_string(opt.repeats));
  if (opt.bytes < kProbeMinBytes)
    throw BadInput("--bytes: must be at least " + format_bytes(kProbeMinBytes) + ", got " + format_bytes(opt.bytes));
  ProbeResult r;
  r.device = device_name(backend.kind());
  r.device_name = backend.name();
  r.host = host_name();
  r.when = utc_now_iso();
  r.repeats = opt.repeats;
  r.bytes = align_up(static_cast<std::size_t>(opt.bytes), kProbeGranule);
  if (backend.kind() == DeviceKind::CUDA) {
#ifdef FERRY_HAVE_CUDA
    run_probe_cuda(opt, r);
    measure_disk_for_cuda(opt, r);
#else
    throw BadInput("--device cuda: ferry was built without CUDA");
#endif
  } else {
    run_probe_cpu(backend, opt, r);
    r.cache_bytes = last_level_cache_bytes();
  }
  return r;
}

std::string probe_to_json(const ProbeResult& p) {
  const nlohmann::json j = {{"format", "ferry-probe/1"},
                            {"device", p.device},
                            {"device_name", p.device_name},
                            {"host", p.host},
                            {"commit", p.commit},
                            {"when", p.when},
                            {"bytes", p.bytes},
                            {"repeats", p.repeats},
                            {"units", "bytes per second"},
                            {"h2d_bps", p.h2d_bps},
                            {"d2h_bps", p.d2h_bps},
                            {"managed_prefetch_bps", p.managed_prefetch_bps},
                            {"fault_bps", p.fault_bps},
                            {"device_bps", p.device_bps},
                            {"disk_read_bps", p.disk_read_bps},
                            {"flops_per_s", p.flops_per_s},
                            {"noise", p.noise},
                            {"cache_bytes", p.cache_bytes}};
  return j.dump(2);
}

ProbeResult probe_from_json(const std::string& text, const std::string& origin) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw BadInput(origin + ": not valid JSON (" + std::string(e.what()) + ")");
  }
  if (!j.is_object()) throw BadInput(origin + ": a probe file must hold one JSON object");
  ProbeResult p;
  p.device = read_string(j, "device", origin);
  if (p.device != "cpu" && p.device != "cuda")
    throw BadInput(origin + ": key 'device' must be \"cpu\" or \"cuda\", got " +
                   (j.contains("device") ? j.at("device").dump() : std::string("nothing")));
  p.device_name = read_string(j, "device_name", origin);
  p.host = read_string(j, "host", origin);
  p.commit = read_string(j, "commit", origin);
  p.when = read_string(j, "when", origin);
  if (j.contains("bytes")) {
    if (!j.at("bytes").is_number_unsigned()) throw BadInput(origin + ": key 'bytes' must be a non-negative integer");
    p.bytes = j.at("bytes").get<std::uint64_t>();
  }
  if (j.contains("repeats")) {
    if (!j.at("repeats").is_number_integer() || j.at("repeats").get<std::int64_t>() < 0 ||
        j.at("repeats").get<std::int64_t>() > 1000000)
      throw BadInput(origin + ": key 'repeats' must be a non-negative integer");
    p.repeats = j.at("repeats").get<int>();
  }
  p.h2d_bps = read_bps(j, "h2d_bps", origin);
  p.d2h_bps = read_bps(j, "d2h_bps", origin);
  p.managed_prefetch_bps = read_bps(j, "managed_prefetch_bps", origin);
  p.fault_bps = read_bps(j, "fault_bps", origin);
  p.device_bps = read_bps(j, "device_bps", origin);
  // Added after ferry-probe/1's first files: absent means not measured (0).
  for (auto [key, field] : {std::pair{"disk_read_bps", &p.disk_read_bps}, std::pair{"flops_per_s", &p.flops_per_s},
                            std::pair{"noise", &p.noise}})
    if (j.contains(key)) *field = read_bps(j, key, origin);
  if (j.contains("cache_bytes")) {
    if (!j.at("cache_bytes").is_number_unsigned()) throw BadInput(origin + ": key 'cache_bytes' must be a non-negative integer");
    p.cache_bytes = j.at("cache_bytes").get<std::uint64_t>();
  }
  return p;
}

void save_probe(const ProbeResult& p, const std::string& path) {
  std::ofstream f(path);
  if (!f) throw BadInput("cannot write the probe file " + path + ": " + std::strerror(errno));
  f << probe_to_json(p) << '\n';
  f.close();
  if (!f) throw BadInput("cannot write the probe file " + path);
}

ProbeResult load_probe(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw BadInput("cannot read the probe file " + path + ": " + std::strerror(errno));
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) throw BadInput("cannot read the probe file " + path);
  return probe_from_json(ss.str(), path);
}

}  // namespace ferry
