// Pooling and normalization of encoder outputs (runtime/embed.h).
#include "runtime/embed.h"

#include <cmath>

#include "base/error.h"
#include "runtime/prompts.h"

namespace ferry {

Pooling parse_pooling(const std::string& s, const std::string& what) {
  if (s == "mean") return Pooling::Mean;
  if (s == "cls") return Pooling::Cls;
  if (s == "pooler") return Pooling::Pooler;
  if (s == "none") return Pooling::None;
  throw BadInput(what + ": unknown pooling '" + s + "' (expected mean, cls, pooler or none)");
}

const char* pooling_name(Pooling p) {
  switch (p) {
    case Pooling::Mean: return "mean";
    case Pooling::Cls: return "cls";
    case Pooling::Pooler: return "pooler";
    case Pooling::None: return "none";
  }
  return "?";
}

namespace {

// The mean (in double) of each sequence's rows of hidden[total, H].
std::vector<float> mean_rows(const EncodeResult& r, const std::vector<std::vector<std::int32_t>>& inputs) {
  const std::size_t H = static_cast<std::size_t>(r.width);
  std::vector<float> out(inputs.size() * H);
  std::size_t row = 0;
  std::vector<double> acc(H);
  for (std::size_t b = 0; b < inputs.size(); ++b) {
    std::fill(acc.begin(), acc.end(), 0.0);
    for (std::size_t t = 0; t < inputs[b].size(); ++t, ++row)
      for (std::size_t i = 0; i < H; ++i) acc[i] += r.values[row * H + i];
    for (std::size_t i = 0; i < H; ++i) out[b * H + i] = static_cast<float>(acc[i] / static_cast<double>(inputs[b].size()));
  }
  return out;
}

void normalize_rows(std::vector<float>& v, std::int64_t rows, int width) {
  for (std::int64_t r = 0; r < rows; ++r) {
    float* p = v.data() + r * width;
    double ss = 0;
    for (int i = 0; i < width; ++i) ss += static_cast<double>(p[i]) * p[i];
    // sentence-transformers' Normalize is torch.nn.functional.normalize: x / max(||x||, 1e-12).
    const double n = std::max(std::sqrt(ss), 1e-12);
    for (int i = 0; i < width; ++i) p[i] = static_cast<float>(p[i] / n);
  }
}

}  // namespace

Embeddings embed(Engine& engine, const std::vector<std::vector<std::int32_t>>& inputs, Pooling pooling, bool normalize) {
  EncodeRequest req;
  req.prompts = inputs;
  if (pooling == Pooling::Pooler) req.head = EncoderHead::Pooler;
  if (pooling == Pooling::Cls) req.rows = first_token_rows(inputs);
  Embeddings e = engine.encode(req);  // cls: the rows asked for; pooler; none: every token
  if (pooling == Pooling::Mean) {
    e.values = mean_rows(e, inputs);
    e.rows = static_cast<std::int64_t>(inputs.size());
  }
  if (normalize) normalize_rows(e.values, e.rows, e.width);
  return e;
}

std::vector<double> cosine_matrix(const std::vector<float>& rows, std::int64_t n, int width) {
  std::vector<double> norm(static_cast<std::size_t>(n)), out(static_cast<std::size_t>(n * n));
  auto dot = [&](std::int64_t a, std::int64_t b) {
    double s = 0;
    for (int i = 0; i < width; ++i) s += static_cast<double>(rows[a * width + i]) * rows[b * width + i];
    return s;
  };
  for (std::int64_t a = 0; a < n; ++a) norm[static_cast<std::size_t>(a)] = std::sqrt(dot(a, a));
  for (std::int64_t a = 0; a < n; ++a)
    for (std::int64_t b = 0; b < n; ++b) {
      const double d = norm[static_cast<std::size_t>(a)] * norm[static_cast<std::size_t>(b)];
      out[static_cast<std::size_t>(a * n + b)] = d > 0 ? dot(a, b) / d : 0.0;
    }
  return out;
}

}  // namespace ferry
