// Random GPT-2 weights, deterministic per (seed, tensor name) and per element: element i of a
// tensor depends only on (seed, name, i), so tensors can be generated in any order, in parallel,
// and in chunks, and the same values always come out.
//
// Generator: a counter-based stream. key = splitmix64(seed ^ splitmix64(fnv1a(name))); pair j of a
// tensor takes the 64-bit word splitmix64(key + (j + 1) * golden gamma) (Steele, Lea, Flood,
// "Fast splittable pseudorandom number generators", OOPSLA 2014) and turns it into
// two normal samples with the Box-Muller transform (Box and Muller 1958), using 24 bits of each
// half. log, sin and cos are fixed float polynomials rather than libm calls, so the values do not
// depend on the C library, and the loop vectorises.
//
// Init as GPT-2 (Radford et al. 2019; Hugging Face GPT2PreTrainedModel._init_weights): normal(0,
// 0.02) for embeddings and matrices, c_proj weights std 0.02/sqrt(2 * num_layers), zero biases, unit
// LayerNorm gains. Values are rounded to spec.dtype, then converted to the requested dtype.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>

#include "base/error.h"
#include "base/omp_guard.h"
#include "models/weights.h"

namespace ferry {

namespace {

constexpr std::uint64_t kGamma = 0x9E3779B97F4A7C15ull;

inline std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
inline std::uint64_t splitmix64(std::uint64_t x) { return mix64(x + kGamma); }

std::uint64_t fnv1a(const std::string& s) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

// ln(x) for x in (0, 1]: x = m * 2^e with m in [sqrt(1/2), sqrt(2)), ln(m) = 2 atanh(t),
// t = (m - 1) / (m + 1), |t| <= 0.172; the series to t^11 is accurate to float precision.
inline float poly_log(float x) {
  std::uint32_t bits;
  std::memcpy(&bits, &x, 4);
  // Subtracting the bits of sqrt(1/2) moves the mantissa split from [1, 2) to [sqrt(1/2), sqrt(2)).
  const std::uint32_t shifted = bits - 0x3f3504f3u;
  const std::int32_t e = static_cast<std::int32_t>(shifted) >> 23;
  const std::uint32_t mbits = (shifted & 0x007fffffu) + 0x3f3504f3u;
  float m;
  std::memcpy(&m, &mbits, 4);
  const float t = (m - 1.0f) / (m + 1.0f), t2 = t * t;
  const float s = t * (1.0f + t2 * (1.0f / 3 + t2 * (1.0f / 5 + t2 * (1.0f / 7 + t2 * (1.0f / 9 + t2 * (1.0f / 11))))));
  return static_cast<float>(e) * 0.693147180559945f + 2.0f * s;
}

// sin and cos of 2*pi*u for u in [0, 1): quadrant k = round(4u), a = 2*pi*(u - k/4) in
// [-pi/4, pi/4], Taylor series to a^11 / a^12 (error < 1e-9). Branch-free so loops vectorise.
inline void poly_sincos_2pi(float u, float& s, float& c) {
  const int k = static_cast<int>(u * 4.0f + 0.5f);
  const float a = 6.28318530717959f * (u - 0.25f * static_cast<float>(k)), a2 = a * a;
  const float sa = a * (1 - a2 / 6 * (1 - a2 / 20 * (1 - a2 / 42 * (1 - a2 / 72 * (1 - a2 / 110)))));
  const float ca = 1 - a2 / 2 * (1 - a2 / 12 * (1 - a2 / 30 * (1 - a2 / 56 * (1 - a2 / 90 * (1 - a2 / 132)))));
  // angle = a + k * pi/2: odd quadrants swap sin and cos; then signs by quadrant.
  const float s0 = (k & 1) ? ca : sa, c0 = (k & 1) ? sa : ca;
  s = (k & 2) ? -s0 : s0;
  c = ((k + 1) & 2) ? -c0 : c0;
}

// The two 24-bit uniforms of pair j of the tensor with key `key`: u1 in (0, 1), u2 in [0, 1).
inline void uniform_pair(std::uint64_t key, std::uint64_t j, float& u1, float& u2) {
  const std::uint64_t w = mix64(key + (j + 1) * kGamma);
  u1 = (static_cast<float>(static_cast<std::uint32_t>(w >> 40)) + 0.5f) * (1.0f / 16777216.0f);
  u2 = static_cast<float>(static_cast<std::uint32_t>(w & 0xffffffu)) * (1.0f / 16777216.0f);
}

// Box-Muller: two independent normal(0, std_dev) samples from two uniforms.
inline void box_muller(float u1, float u2, float std_dev, float& z0, float& z1) {
  const float r = std::sqrt(-2.0f * poly_log(u1)) * std_dev;
  float s, c;
  poly_sincos_2pi(u2, s, c);
  z0 = r * c;
  z1 = r * s;
}

// Fills out[0, n) with elements [i0, i0 + n) of the tensor with key `key` (i0 even), std `std_dev`.
// Integer hashing (scalar) and the float transform (vectorised) run as separate passes over
// blocks of pairs.
void normal_chunk(std::uint64_t key, std::size_t i0, std::size_t n, float std_dev, float* out) {
  constexpr std::size_t kBlock = 512;
  float u1[kBlock], u2[kBlock], z0[kBlock], z1[kBlock];
  const std::size_t pairs = (n + 1) / 2;
  for (std::size_t b = 0; b < pairs; b += kBlock) {
    const std::size_t m = std::min(kBlock, pairs - b);
    for (std::size_t p = 0; p < m; ++p) uniform_pair(key, i0 / 2 + b + p, u1[p], u2[p]);
    for (std::size_t p = 0; p < m; ++p) box_muller(u1[p], u2[p], std_dev, z0[p], z1[p]);
    float* o = out + 2 * b;
    const std::size_t left = n - 2 * b;  // elements still to write
    const std::size_t full = std::min(m, left / 2);
    for (std::size_t p = 0; p < full; ++p) {
      o[2 * p] = z0[p];
      o[2 * p + 1] = z1[p];
    }
    if (full < m) o[2 * full] = z0[full];  // odd n: the last pair contributes one element
  }
}

enum class Init { Normal, Zero, One };

class RandomSource final : public WeightSource {
 public:
  explicit RandomSource(const ModelSpec& spec) : seed_(spec.weights.seed), dtype_(spec.dtype), family_(spec.family) {
    const ModelFamily& family = model_family(spec);
    for (const TensorInfo& t : family.tensors(spec)) {
      const RandomInit r = family.random_init(spec, t);
      const Init init = r.kind == RandomInit::Kind::Zero ? Init::Zero
                        : r.kind == RandomInit::Kind::One ? Init::One
                                                          : Init::Normal;
      table_.emplace(t.name, Entry{t.shape, init, r.std_dev});
    }
  }

  void read(const std::string& name, const Shape& shape, DType dst_dtype, void* dst) override {
    auto it = table_.find(name);
    if (it == table_.end()) throw BadInput(describe() + ": tensor '" + name + "' missing (not a tensor of family " + family_ + ")");
    const Entry& e = it->second;
    if (!(e.shape == shape))
      throw BadInput(describe() + ": tensor '" + name + "' has shape " + e.shape.str() + ", expected " + shape.str());
    const std::size_t n = static_cast<std::size_t>(shape.numel());
    const std::size_t dsize = dtype_size(dst_dtype);
    if (e.init != Init::Normal) {
      const float v = e.init == Init::One ? 1.0f : 0.0f;
      unsigned char one[4];
      convert(&v, DType::F32, one, dst_dtype, 1);
      auto* d = static_cast<unsigned char*>(dst);
#pragma omp parallel for schedule(static) if (n > (1u << 16))
      for (std::int64_t i = 0; i < static_cast<std::int64_t>(n); ++i)
        std::memcpy(d + static_cast<std::size_t>(i) * dsize, one, dsize);
      return;
    }
    const std::uint64_t key = splitmix64(seed_ ^ splitmix64(fnv1a(name)));
    constexpr std::size_t kChunk = std::size_t{1} << 16;  // even, so Box-Muller pairs never straddle
    const std::int64_t chunks = static_cast<std::int64_t>((n + kChunk - 1) / kChunk);
    OmpGuard guard;  // the per-thread buffer is an allocation and convert() checks its dtypes
#pragma omp parallel if (chunks > 1)
    {
      std::unique_ptr<float[]> buf;
      if (dst_dtype != DType::F32) guard.run([&] { buf.reset(new float[kChunk]); });
#pragma omp for schedule(dynamic, 4)
      for (std::int64_t c = 0; c < chunks; ++c) {
        // Skipped once any thread failed, so no chunk runs without the buffer it needs.
        guard.run([&] {
          const std::size_t i0 = static_cast<std::size_t>(c) * kChunk;
          const std::size_t m = std::min(kChunk, n - i0);
          float* out = buf ? buf.get() : static_cast<float*>(dst) + i0;
          normal_chunk(key, i0, m, e.std_dev, out);
          // Round to the model's dtype, then convert to dst_dtype. Converting straight to the model's
          // own dtype is the same rounding, done once.
          if (dtype_ != DType::F32 && dst_dtype != dtype_) {
            if (dtype_ == DType::F16)
              for (std::size_t i = 0; i < m; ++i) out[i] = half_to_float(float_to_half(out[i]));
            else
              for (std::size_t i = 0; i < m; ++i) out[i] = bf16_to_float(float_to_bf16(out[i]));
          }
          if (buf) convert(out, DType::F32, static_cast<std::byte*>(dst) + i0 * dsize, dst_dtype, m);
        });
      }
    }
    guard.rethrow();
  }

  std::string describe() const override { return "random (seed " + std::to_string(seed_) + ")"; }

 private:
  struct Entry {
    Shape shape;
    Init init;
    float std_dev;
  };
  std::uint64_t seed_;
  DType dtype_;
  std::string family_;
  std::map<std::string, Entry> table_;
};

}  // namespace

std::unique_ptr<WeightSource> random_source(const ModelSpec& spec) { return std::make_unique<RandomSource>(spec); }

}  // namespace ferry
