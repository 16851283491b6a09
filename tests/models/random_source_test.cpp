// The GPT-2 tensor table and the random weight source.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <set>

#include "models/weights.h"
#include "test_util.h"

namespace ferry {
namespace {

using test::expect_bad_input;

ModelSpec small_spec(DType dtype, std::uint64_t seed, int layers = 2) {
  ModelSpec s = parse_model_toml_string(R"([model]
vocab_size = 300
context_length = 40
hidden_size = 64
num_layers = 2
num_heads = 4
)",
                                        "small", "");
  s.num_layers = layers;
  s.dtype = dtype;
  s.weights.seed = seed;
  return s;
}

std::vector<std::uint8_t> read_bytes(WeightSource& src, const TensorInfo& t, DType dt) {
  std::vector<std::uint8_t> b(static_cast<std::size_t>(t.shape.numel()) * dtype_size(dt));
  src.read(t.name, t.shape, dt, b.data());
  return b;
}

std::vector<float> read_f32(WeightSource& src, const std::string& name, const Shape& shape) {
  std::vector<float> v(static_cast<std::size_t>(shape.numel()));
  src.read(name, shape, DType::F32, v.data());
  return v;
}

TEST(Gpt2Tensors, TableMatchesHuggingFace) {
  ModelSpec spec = small_spec(DType::F32, 0);
  const auto t = gpt2_tensors(spec);
  ASSERT_EQ(t.size(), 4u + 12u * 2u);
  EXPECT_EQ(t[0].name, "wte.weight");
  EXPECT_EQ(t[0].shape, (Shape{300, 64}));
  EXPECT_EQ(t[1].name, "wpe.weight");
  EXPECT_EQ(t[1].shape, (Shape{40, 64}));
  std::uint64_t total = 0;
  std::set<std::string> names;
  int last_pack = 0;
  for (const TensorInfo& x : t) {
    total += static_cast<std::uint64_t>(x.shape.numel());
    names.insert(x.name);
    EXPECT_GE(x.pack, last_pack) << "not in pack order";
    last_pack = x.pack;
    if (x.pack > 0) EXPECT_EQ(x.name, "h." + std::to_string(x.pack - 1) + "." + x.local);
    else EXPECT_EQ(x.name, x.local);
  }
  EXPECT_EQ(names.size(), t.size());
  EXPECT_EQ(total, spec.parameter_count());
  auto find = [&](const std::string& n) {
    for (const TensorInfo& x : t)
      if (x.name == n) return x;
    ADD_FAILURE() << n;
    return TensorInfo{};
  };
  EXPECT_EQ(find("h.1.attn.c_attn.weight").shape, (Shape{64, 192}));
  EXPECT_EQ(find("h.1.attn.c_attn.bias").shape, (Shape{192}));
  EXPECT_EQ(find("h.1.attn.c_proj.weight").shape, (Shape{64, 64}));
  EXPECT_EQ(find("h.1.mlp.c_fc.weight").shape, (Shape{64, 256}));
  EXPECT_EQ(find("h.1.mlp.c_proj.weight").shape, (Shape{256, 64}));
  EXPECT_EQ(find("h.0.ln_2.bias").pack, 1);
  EXPECT_EQ(names.count("lm_head.weight"), 0u);

  spec.tied_embeddings = false;
  const auto u = gpt2_tensors(spec);
  EXPECT_EQ(u.size(), t.size() + 1);
  EXPECT_EQ(u[4].name, "lm_head.weight");
  EXPECT_EQ(u[4].shape, (Shape{300, 64}));
  EXPECT_EQ(u[4].pack, 0);
}

TEST(RandomSource, DeterministicAndIndependentOfReadOrder) {
  const ModelSpec spec = small_spec(DType::F32, 5);
  const auto t = gpt2_tensors(spec);
  auto a = random_source(spec);
  auto b = random_source(spec);
  std::vector<std::vector<std::uint8_t>> forward, backward(t.size());
  for (const TensorInfo& x : t) forward.push_back(read_bytes(*a, x, DType::F32));
  for (std::size_t k = t.size(); k-- > 0;) backward[k] = read_bytes(*b, t[k], DType::F32);
  EXPECT_EQ(forward, backward);
  EXPECT_EQ(read_bytes(*a, t[0], DType::F32), forward[0]);  // reading twice gives the same

  // Another seed, another model; the tensors of one model differ from each other.
  auto c = random_source(small_spec(DType::F32, 6));
  EXPECT_NE(read_bytes(*c, t[0], DType::F32), forward[0]);
  EXPECT_NE(read_f32(*a, "h.0.attn.c_attn.weight", {64, 192}), read_f32(*a, "h.1.attn.c_attn.weight", {64, 192}));
  EXPECT_NE(a->describe().find("seed 5"), std::string::npos);

  // make_weight_source follows spec.weights
  EXPECT_EQ(read_bytes(*make_weight_source(spec), t[0], DType::F32), forward[0]);
}

// Mean and standard deviation of a tensor's values.
std::pair<double, double> moments(const std::vector<float>& v) {
  double s = 0, s2 = 0;
  for (float x : v) {
    s += x;
    s2 += static_cast<double>(x) * x;
  }
  const double n = static_cast<double>(v.size());
  return {s / n, std::sqrt(s2 / n - (s / n) * (s / n))};
}

TEST(RandomSource, Gpt2InitStatistics) {
  const ModelSpec spec = small_spec(DType::F32, 0, 8);
  auto src = random_source(spec);
  const auto [wte_mean, wte_std] = moments(read_f32(*src, "wte.weight", {300, 64}));  // 19200 values
  EXPECT_NEAR(wte_mean, 0.0, 0.001);
  EXPECT_NEAR(wte_std, 0.02, 0.0005);
  const auto [fc_mean, fc_std] = moments(read_f32(*src, "h.3.mlp.c_fc.weight", {64, 256}));
  EXPECT_NEAR(fc_mean, 0.0, 0.001);
  EXPECT_NEAR(fc_std, 0.02, 0.0005);
  const double proj = 0.02 / std::sqrt(16.0);
  const auto [pm, ps] = moments(read_f32(*src, "h.7.mlp.c_proj.weight", {256, 64}));
  EXPECT_NEAR(pm, 0.0, 0.0003);
  EXPECT_NEAR(ps, proj, proj * 0.03);
  const auto [am, as] = moments(read_f32(*src, "h.2.attn.c_proj.weight", {64, 64}));
  EXPECT_NEAR(am, 0.0, 0.0005);
  EXPECT_NEAR(as, proj, proj * 0.05);
  // Tails look normal: about 4.55% of values beyond 2 sigma.
  const auto v = read_f32(*src, "wte.weight", {300, 64});
  std::size_t beyond = 0;
  for (float x : v) beyond += std::fabs(x) > 0.04f;
  EXPECT_NEAR(static_cast<double>(beyond) / static_cast<double>(v.size()), 0.0455, 0.005);

  for (const char* bias : {"h.0.attn.c_attn.bias", "h.1.mlp.c_fc.bias", "ln_f.bias", "h.5.ln_1.bias"}) {
    const Shape s = std::string(bias).find("c_attn") != std::string::npos ? Shape{192}
                    : std::string(bias).find("c_fc") != std::string::npos ? Shape{256}
                                                                          : Shape{64};
    for (float x : read_f32(*src, bias, s)) ASSERT_EQ(x, 0.f) << bias;
  }
  for (const char* gain : {"ln_f.weight", "h.4.ln_2.weight"})
    for (float x : read_f32(*src, gain, {64})) ASSERT_EQ(x, 1.f) << gain;
  std::vector<std::uint16_t> ones(64);
  src->read("h.0.ln_1.weight", {64}, DType::BF16, ones.data());
  for (std::uint16_t x : ones) ASSERT_EQ(x, 0x3F80u);
}

TEST(RandomSource, RoundedToSpecDtypeThenConverted) {
  const ModelSpec spec = small_spec(DType::F16, 1);
  auto src = random_source(spec);
  const Shape shape{64, 192};
  const auto f = read_f32(*src, "h.1.attn.c_attn.weight", shape);
  std::vector<std::uint16_t> h(f.size()), b(f.size());
  src->read("h.1.attn.c_attn.weight", shape, DType::F16, h.data());
  src->read("h.1.attn.c_attn.weight", shape, DType::BF16, b.data());
  for (std::size_t i = 0; i < f.size(); ++i) {
    ASSERT_EQ(half_to_float(float_to_half(f[i])), f[i]) << "not an f16 value at " << i;
    ASSERT_EQ(h[i], float_to_half(f[i]));
    ASSERT_EQ(b[i], float_to_bf16(f[i]));
  }
  // The f32 model's values round to the f16 model's values.
  auto full = random_source(small_spec(DType::F32, 1));
  const auto g = read_f32(*full, "h.1.attn.c_attn.weight", shape);
  for (std::size_t i = 0; i < g.size(); ++i) ASSERT_EQ(half_to_float(float_to_half(g[i])), f[i]);
}

TEST(RandomSource, LargeTensorChunksAgree) {
  // A tensor spanning many generation chunks equals, element by element, the same tensor read as f16.
  ModelSpec spec = small_spec(DType::F32, 2);
  spec.vocab_size = 5001;  // 5001 * 64 = 320064 elements, odd rows
  auto src = random_source(spec);
  const Shape s{5001, 64};
  const auto f = read_f32(*src, "wte.weight", s);
  std::vector<std::uint16_t> h(f.size());
  src->read("wte.weight", s, DType::F16, h.data());
  for (std::size_t i = 0; i < f.size(); ++i) ASSERT_EQ(h[i], float_to_half(f[i])) << i;
  const auto [m, sd] = moments(f);
  EXPECT_NEAR(m, 0.0, 0.0002);
  EXPECT_NEAR(sd, 0.02, 0.0002);
}

TEST(RandomSource, UnknownTensorOrWrongShape) {
  auto src = random_source(small_spec(DType::F32, 0));
  std::vector<float> buf(64 * 192);
  expect_bad_input([&] { src->read("h.9.ln_1.weight", {64}, DType::F32, buf.data()); }, {"random", "h.9.ln_1.weight"});
  expect_bad_input([&] { src->read("h.0.attn.c_attn.weight", {192, 64}, DType::F32, buf.data()); },
                   {"h.0.attn.c_attn.weight", "[64, 192]", "[192, 64]"});
  expect_bad_input([&] { src->read("lm_head.weight", {300, 64}, DType::F32, buf.data()); }, {"lm_head.weight"});
}

}  // namespace
}  // namespace ferry
