#include "runtime/bench/lengths.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace ferry::bench {
namespace {

// splitmix64 (Steele, Lea, Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014).
struct SplitMix {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53; }  // (0, 1)
  // Box-Muller: one standard normal draw from two uniforms.
  double normal() {
    const double u1 = uniform();
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }
};

int clip(double v, int max) { return static_cast<int>(std::clamp(std::lround(v), 1L, static_cast<long>(std::max(max, 1)))); }

}  // namespace

std::vector<int> draw_lengths(int batch, const LengthDistribution& d) {
  SplitMix rng{d.seed ^ 0x6C656E67746873ull};
  std::vector<int> out;
  for (int b = 0; b < batch; ++b) out.push_back(clip(d.avg + d.stdev * rng.normal(), d.max));
  return out;
}

std::vector<int> lengths_for_padding(int batch, double target, const LengthDistribution& d) {
  if (batch <= 0) return {};
  const int max = std::max(d.max, 1);
  LengthDistribution around = d;
  around.avg = (1.0 - std::clamp(target, 0.0, 1.0)) * max;
  std::vector<int> out = draw_lengths(batch, around);
  out[0] = max;
  if (batch == 1) return out;
  // The others' sum that gives the target, then shift them together (clipping) toward it.
  const double want = (1.0 - target) * batch * max - max;
  for (int iter = 0; iter < 64; ++iter) {
    double sum = 0;
    for (int b = 1; b < batch; ++b) sum += out[static_cast<std::size_t>(b)];
    const double shift = (want - sum) / (batch - 1);
    if (std::fabs(shift) < 0.5) break;
    for (int b = 1; b < batch; ++b) out[static_cast<std::size_t>(b)] = clip(out[static_cast<std::size_t>(b)] + shift, max);
  }
  // The remainder, one token at a time, on sequences that can still move.
  double sum = 0;
  for (int b = 1; b < batch; ++b) sum += out[static_cast<std::size_t>(b)];
  long rest = std::lround(want - sum);
  for (int b = 1; b < batch && rest != 0; ++b) {
    int& l = out[static_cast<std::size_t>(b)];
    if (rest > 0 && l < max) {
      ++l;
      --rest;
    } else if (rest < 0 && l > 1) {
      --l;
      ++rest;
    }
  }
  return out;
}

double padding_fraction(const std::vector<int>& lengths) {
  if (lengths.empty()) return 0;
  long long sum = 0;
  int longest = 0;
  for (int l : lengths) {
    sum += l;
    longest = std::max(longest, l);
  }
  if (longest == 0) return 0;
  return 1.0 - static_cast<double>(sum) / (static_cast<double>(lengths.size()) * longest);
}

}  // namespace ferry::bench
