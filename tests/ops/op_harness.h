// Test harness for the op conformance tests: the device under test (CPU, or CUDA when the test is
// compiled with FERRY_OPS_TEST_CUDA=1), buffers with guard bytes on that device, and an elementwise
// error check against the reference.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "base/backend.h"
#include "base/dtype.h"
#include "base/tensor.h"
#ifdef FERRY_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "base/cuda_backend.h"
#endif

#ifndef FERRY_OPS_TEST_CUDA
#define FERRY_OPS_TEST_CUDA 0
#endif

namespace ferry::ops::testing {

constexpr DeviceKind kDevice = FERRY_OPS_TEST_CUDA ? DeviceKind::CUDA : DeviceKind::CPU;
constexpr bool kCuda = FERRY_OPS_TEST_CUDA != 0;
constexpr std::size_t kGuard = 256;             // guard bytes on each side of every buffer
constexpr unsigned char kUnwritten = 0xFF;      // output fill: NaN for f32, -1 for i32

// The device under test and one stream on it.
struct Device {
  std::unique_ptr<Backend> backend;
  std::unique_ptr<Stream> stream;
  Stream& s() { return *stream; }
};

// Null when the device is not present (CUDA test without a GPU, or built without CUDA).
inline std::unique_ptr<Device> open_device() {
  if (kCuda && cuda_device_count() == 0) return nullptr;
  auto d = std::make_unique<Device>();
  d->backend = make_backend(kDevice);
  d->stream = d->backend->create_stream(0);
  return d;
}

#define FERRY_OPEN_DEVICE_OR_SKIP(dev)                                                              \
  auto dev = ::ferry::ops::testing::open_device();                                                  \
  if (!dev)                                                                                         \
  GTEST_SKIP() << "no CUDA device (ferry built with CUDA: " << (::ferry::cuda_compiled() ? "yes" : "no") \
               << ", devices: " << ::ferry::cuda_device_count() << "): CUDA op conformance not run"

// A buffer of the device under test: [kGuard canaries | body | kGuard canaries]. The body starts
// filled with kUnwritten so an element an op forgets to write fails the comparison.
class DevBuf {
 public:
  DevBuf(DType t, Shape s)
      : dtype_(t), shape_(s), bytes_(static_cast<std::size_t>(s.numel()) * dtype_size(t)), canary_(next_canary()) {
    std::vector<unsigned char> init(total());
    for (std::size_t i = 0; i < init.size(); ++i)
      init[i] = (i < kGuard || i >= kGuard + bytes_) ? canary_ : kUnwritten;
    if constexpr (kCuda) {
#ifdef FERRY_HAVE_CUDA
      void* p = nullptr;
      FERRY_CUDA(cudaMalloc(&p, total()));
      dev_ = static_cast<unsigned char*>(p);
      FERRY_CUDA(cudaMemcpy(dev_, init.data(), total(), cudaMemcpyHostToDevice));
#endif
    } else {
      host_.resize((total() + 7) / 8);
      std::memcpy(host_.data(), init.data(), total());
    }
  }
  template <class T>
  DevBuf(const std::vector<T>& v, DType t, Shape s) : DevBuf(t, s) {
    EXPECT_EQ(v.size() * sizeof(T), bytes_) << "DevBuf: host data size";
    write(v.data());
  }
  ~DevBuf() {
#ifdef FERRY_HAVE_CUDA
    if (dev_ != nullptr) cudaFree(dev_);
#endif
  }
  DevBuf(const DevBuf&) = delete;
  DevBuf& operator=(const DevBuf&) = delete;

  TensorView view() const { return TensorView(raw() + kGuard, dtype_, shape_, kDevice); }
  std::size_t bytes() const { return bytes_; }

  void write(const void* src) { copy_in(kGuard, src, bytes_); }
  template <class T>
  std::vector<T> read() const {
    std::vector<T> v(bytes_ / sizeof(T));
    copy_out(v.data(), kGuard, bytes_);
    return v;
  }
  // Counts guard bytes that are no longer the canary; the test fails when any is.
  void expect_guards(const std::string& name) const {
    std::vector<unsigned char> all(total());
    copy_out(all.data(), 0, total());
    std::size_t before = 0;
    std::size_t after = 0;
    for (std::size_t i = 0; i < kGuard; ++i) {
      before += all[i] != canary_;
      after += all[kGuard + bytes_ + i] != canary_;
    }
    EXPECT_EQ(before + after, 0u) << name << ": guard bytes overwritten (" << before << " before the buffer, "
                                  << after << " after it)";
  }

 private:
  // Each buffer gets its own guard byte (0x40..0xBF), so an op that copies one buffer's guard into
  // another's is still caught.
  static unsigned char next_canary() {
    static unsigned counter = 0;
    return static_cast<unsigned char>(0x40 + (counter++ * 37) % 128);
  }
  std::size_t total() const { return bytes_ + 2 * kGuard; }
  unsigned char* raw() const {
    return dev_ != nullptr ? dev_ : reinterpret_cast<unsigned char*>(const_cast<std::uint64_t*>(host_.data()));
  }
  void copy_in(std::size_t off, const void* src, std::size_t n) {
    if constexpr (kCuda) {
#ifdef FERRY_HAVE_CUDA
      FERRY_CUDA(cudaMemcpy(dev_ + off, src, n, cudaMemcpyHostToDevice));
#endif
    } else {
      std::memcpy(raw() + off, src, n);
    }
  }
  void copy_out(void* dst, std::size_t off, std::size_t n) const {
    if constexpr (kCuda) {
#ifdef FERRY_HAVE_CUDA
      FERRY_CUDA(cudaMemcpy(dst, dev_ + off, n, cudaMemcpyDeviceToHost));
#endif
    } else {
      std::memcpy(dst, raw() + off, n);
    }
  }

  DType dtype_;
  Shape shape_;
  std::size_t bytes_;
  unsigned char canary_;
  std::vector<std::uint64_t> host_;  // CPU storage (8-byte aligned)
  unsigned char* dev_ = nullptr;     // CUDA storage
};

// Uploads weights w[...] stored as `t`. For f16/bf16, w is rounded in place to the stored values so
// the reference sees exactly what the device sees.
inline std::unique_ptr<DevBuf> weights(std::vector<float>& w, DType t, Shape s) {
  auto buf = std::make_unique<DevBuf>(t, s);
  if (t == DType::F32) {
    buf->write(w.data());
  } else {
    std::vector<std::uint16_t> stored(w.size());
    convert(w.data(), DType::F32, stored.data(), t, w.size());
    convert(stored.data(), t, w.data(), DType::F32, w.size());
    buf->write(stored.data());
  }
  return buf;
}

// Weight dtypes the devices accept: all three on both.
inline std::vector<DType> weight_dtypes() { return {DType::F32, DType::F16, DType::BF16}; }

// A host view for the reference.
template <class T>
TensorView host(std::vector<T>& v, DType t, Shape s) {
  return TensorView(v.data(), t, s, DeviceKind::CPU);
}

// Elementwise bound: |got - want| <= atol + rtol * |want|.
struct Bound {
  double atol;
  double rtol;
};

inline ::testing::AssertionResult close(const std::vector<float>& got, const std::vector<float>& want, Bound b) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << "size " << got.size() << " vs reference " << want.size();
  double worst = 0.0;  // error / allowed
  double max_abs = 0.0;
  std::size_t at = 0;
  std::size_t bad = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(static_cast<double>(got[i]) - static_cast<double>(want[i]));
    const double allowed = b.atol + b.rtol * std::fabs(static_cast<double>(want[i]));
    const double ratio = std::isnan(err) ? std::numeric_limits<double>::infinity() : (allowed > 0 ? err / allowed : (err > 0 ? std::numeric_limits<double>::infinity() : 0.0));
    if (ratio > 1.0) ++bad;
    if (!(ratio <= worst)) {
      worst = ratio;
      at = i;
    }
    if (!std::isnan(err) && err > max_abs) max_abs = err;
  }
  if (bad == 0) return ::testing::AssertionSuccess() << "max abs error " << max_abs;
  return ::testing::AssertionFailure() << bad << " of " << got.size() << " elements outside atol " << b.atol
                                       << " + rtol " << b.rtol << "; worst at [" << at << "]: got " << got[at]
                                       << ", reference " << want[at] << "; max abs error " << max_abs;
}

inline std::vector<float> uniform(std::size_t n, float lo, float hi, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(gen);
  return v;
}

// offsets[B+1] of the nested batch with these sequence lengths.
inline std::vector<std::int32_t> offsets_of(const std::vector<int>& lengths) {
  std::vector<std::int32_t> off{0};
  for (int l : lengths) off.push_back(off.back() + l);
  return off;
}

}  // namespace ferry::ops::testing
