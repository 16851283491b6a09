// Sequence lengths for benchmark batches, drawn from a seeded distribution (`ferry bench
// --avg-seqlen --seqlen-stdev --max-seqlen --batch-size --seed`), deterministic on every platform.
#pragma once
#include <cstdint>
#include <vector>

namespace ferry::bench {

struct LengthDistribution {
  double avg = 64;      // mean of the normal distribution
  double stdev = 32;    // its standard deviation (0: every sequence has length avg)
  int max = 128;        // lengths are clipped to [1, max]
  std::uint64_t seed = 0;
};

// `batch` lengths from normal(avg, stdev) (Box-Muller over a splitmix64 stream), rounded and clipped
// to [1, max].
std::vector<int> draw_lengths(int batch, const LengthDistribution& d);

// `batch` lengths whose padding fraction 1 - sum / (batch * max) is as close to `target` as the
// integers allow: one sequence has length max (the padded width), the others are drawn around
// (1 - target) * max with d.stdev and then shifted together until their mean hits the target.
std::vector<int> lengths_for_padding(int batch, double target, const LengthDistribution& d);

// 1 - sum(lengths) / (batch * longest): the share of a padded batch that is padding.
double padding_fraction(const std::vector<int>& lengths);

}  // namespace ferry::bench
