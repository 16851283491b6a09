// The scalar references against hand-computed values (so the conformance test does not compare two
// implementations that share a mistake), sample_uniform's properties, and the entry points'
// operand checks and error reporting on the CPU backend.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "base/backend.h"
#include "base/error.h"
#include "ops/ops.h"
#include "ops/reference.h"

namespace ferry::ops {
namespace {

template <class T>
TensorView hv(std::vector<T>& v, DType t, Shape s) {
  return TensorView(v.data(), t, s);
}

TEST(Reference, LayerNormOfOneTwoThree) {
  std::vector<float> r{0.0f, 1.0f, 2.0f};
  std::vector<float> d{1.0f, 1.0f, 1.0f};  // residual becomes [1, 2, 3]
  std::vector<float> g{1.0f, 2.0f, 1.0f};
  std::vector<float> b{0.0f, 0.0f, 0.5f};
  std::vector<float> out(3);
  ref::add_layernorm(hv(r, DType::F32, {1, 3}), hv(d, DType::F32, {1, 3}), hv(g, DType::F32, {3}),
                     hv(b, DType::F32, {3}), 0.0f, hv(out, DType::F32, {1, 3}));
  EXPECT_EQ(r, (std::vector<float>{1.0f, 2.0f, 3.0f}));
  const double z = std::sqrt(1.5);  // (x - 2) / sqrt(2/3)
  EXPECT_NEAR(out[0], -z, 1e-6);
  EXPECT_NEAR(out[1], 0.0, 1e-6);
  EXPECT_NEAR(out[2], z + 0.5, 1e-6);
}

TEST(Reference, GeluValues) {
  std::vector<float> x{1.0f, -1.0f, 0.0f, 3.0f};
  auto t = x;
  ref::activation(hv(t, DType::F32, {4}), Activation::GeluTanh);
  EXPECT_NEAR(t[0], 0.8411920, 1e-6);  // 0.5 (1 + tanh(sqrt(2/pi) 1.044715))
  EXPECT_NEAR(t[1], -0.1588080, 1e-6);
  EXPECT_EQ(t[2], 0.0f);
  EXPECT_NEAR(t[3], 2.9963627, 1e-6);
  auto e = x;
  ref::activation(hv(e, DType::F32, {4}), Activation::GeluErf);
  EXPECT_NEAR(e[0], 0.8413447, 1e-6);  // Phi(1) = 0.8413447
  EXPECT_NEAR(e[1], -0.1586553, 1e-6);
  EXPECT_NEAR(e[3], 2.9959502, 1e-6);
  EXPECT_STREQ(activation_name(Activation::GeluTanh), "gelu_tanh");
  EXPECT_STREQ(activation_name(Activation::GeluErf), "gelu");
  EXPECT_STREQ(activation_name(Activation::None), "none");
}

TEST(Reference, LinearBothLayouts) {
  std::vector<float> x{1, 2, 3, 4, 5, 6};          // [2, 3]
  std::vector<float> w_kn{1, 0, 0, 1, 1, -1};      // [3, 2]
  std::vector<float> w_nk{1, 0, 1, 0, 1, -1};      // [2, 3], the transpose
  std::vector<float> bias{10, 20};
  const std::vector<float> want{14, 19, 20, 19};   // x w + bias
  std::vector<float> out(4);
  ref::linear(hv(x, DType::F32, {2, 3}), hv(w_kn, DType::F32, {3, 2}), WeightLayout::KN,
              hv(bias, DType::F32, {2}), Activation::None, hv(out, DType::F32, {2, 2}));
  EXPECT_EQ(out, want);
  ref::linear(hv(x, DType::F32, {2, 3}), hv(w_nk, DType::F32, {2, 3}), WeightLayout::NK,
              hv(bias, DType::F32, {2}), Activation::None, hv(out, DType::F32, {2, 2}));
  EXPECT_EQ(out, want);
  ref::logits(hv(x, DType::F32, {2, 3}), hv(w_nk, DType::F32, {2, 3}), hv(out, DType::F32, {2, 2}));
  EXPECT_EQ(out, (std::vector<float>{4, -1, 10, -1}));
}

// Two sequences {1, 2}, one head of dimension 2. Row 0 and row 1 see only themselves (each starts a
// sequence); row 2 sees rows 1 and 2 with equal scores (q = 0), so it averages their v.
TEST(Reference, AttentionByHand) {
  std::vector<float> qkv{
      1, 1, 5, 5, 1, 2,   // t0: q | k | v
      0, 0, 9, 9, 3, 4,   // t1
      0, 0, 7, -7, 5, 8,  // t2
  };
  std::vector<std::int32_t> off{0, 1, 3};
  std::vector<float> out(6);
  ref::attention_prefill(hv(qkv, DType::F32, {3, 6}), hv(off, DType::I32, {3}), 1, hv(out, DType::F32, {3, 2}));
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], 2.0f);
  EXPECT_EQ(out[2], 3.0f);
  EXPECT_EQ(out[3], 4.0f);
  EXPECT_NEAR(out[4], 4.0, 1e-6);
  EXPECT_NEAR(out[5], 6.0, 1e-6);

  // Two keys with scores 0 and ln(3) * sqrt(2) / sqrt(2): weights 1/4 and 3/4.
  std::vector<float> k{0, 0, static_cast<float>(std::log(3.0)), 0};  // [S=1, cap=2, H=2]
  std::vector<float> v{4, 0, 0, 8};
  std::vector<float> q{static_cast<float>(std::sqrt(2.0)), 0, 0, 0, 0, 0};  // [1, 3H]
  std::vector<std::int32_t> seq{0};
  std::vector<std::int32_t> len{2};
  std::vector<float> o(2);
  ref::attention_decode(hv(q, DType::F32, {1, 6}), hv(k, DType::F32, {1, 2, 2}), hv(v, DType::F32, {1, 2, 2}),
                        hv(seq, DType::I32, {1}), hv(len, DType::I32, {1}), 1, hv(o, DType::F32, {1, 2}));
  EXPECT_NEAR(o[0], 1.0, 1e-6);
  EXPECT_NEAR(o[1], 6.0, 1e-6);
}

TEST(Reference, SampleRule) {
  // z = [0, ln 3, ln 3, 0]: ties between 1 and 2 go to 1; probabilities with T = 1 are 1/8, 3/8, 3/8, 1/8
  // and the walk order is 1, 2, 0, 3.
  const float l3 = static_cast<float>(std::log(3.0));
  std::vector<float> z{0, l3, l3, 0};
  std::vector<std::int32_t> seq{0};
  std::vector<std::int32_t> step{0};
  std::vector<std::int32_t> id{-1};
  SamplingParams p;
  ref::sample(hv(z, DType::F32, {1, 4}), p, hv(seq, DType::I32, {1}), hv(step, DType::I32, {1}),
              hv(id, DType::I32, {1}));
  EXPECT_EQ(id[0], 1);
  p.greedy = false;
  // Find counters whose u falls in each quarter of [0, 1) and check the token.
  int checked = 0;
  for (std::int32_t s = 0; s < 200 && checked < 200; ++s, ++checked) {
    seq[0] = s;
    const double u = sample_uniform(p.seed, s, 0);
    const std::int32_t want = u < 0.375 ? 1 : u < 0.75 ? 2 : u < 0.875 ? 0 : 3;
    ref::sample(hv(z, DType::F32, {1, 4}), p, hv(seq, DType::I32, {1}), hv(step, DType::I32, {1}),
                hv(id, DType::I32, {1}));
    ASSERT_EQ(id[0], want) << "u = " << u;
  }
  // top_p = 0.5: keeps {1, 2} (3/8 < 0.5 <= 6/8); top_k = 3 drops token 3.
  p.top_p = 0.5f;
  for (std::int32_t s = 0; s < 50; ++s) {
    seq[0] = s;
    ref::sample(hv(z, DType::F32, {1, 4}), p, hv(seq, DType::I32, {1}), hv(step, DType::I32, {1}),
                hv(id, DType::I32, {1}));
    EXPECT_EQ(id[0], sample_uniform(p.seed, s, 0) < 0.5 ? 1 : 2);
  }
}

TEST(SampleUniform, DeterministicInRangeAndSpread) {
  EXPECT_EQ(sample_uniform(7, 3, 11), sample_uniform(7, 3, 11));
  std::set<double> seen;
  double sum = 0.0;
  int n = 0;
  for (std::uint64_t seed : {0ull, 1ull, 0xFFFFFFFFFFFFFFFFull})
    for (std::int32_t seq = -2; seq < 40; ++seq)
      for (std::int32_t step = 0; step < 40; ++step) {
        const double u = sample_uniform(seed, seq, step);
        ASSERT_GE(u, 0.0);
        ASSERT_LT(u, 1.0);
        seen.insert(u);
        sum += u;
        ++n;
      }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(n)) << "distinct counters must give distinct draws";
  EXPECT_NEAR(sum / n, 0.5, 0.02);
  EXPECT_NE(sample_uniform(1, 2, 3), sample_uniform(1, 3, 2)) << "seq and step are not interchangeable";
}

// ---- operand checks at the entry points (CPU stream) -------------------------------------------
class EntryPointChecks : public ::testing::Test {
 protected:
  std::unique_ptr<Backend> backend_ = make_backend(DeviceKind::CPU);
  std::unique_ptr<Stream> s_ = backend_->create_stream(0);
};

// Expects InternalError whose message names `op` and contains `shape`.
template <class F>
void expect_internal(F&& f, const std::string& op, const std::string& shape) {
  try {
    f();
    ADD_FAILURE() << op << ": no error thrown";
  } catch (const InternalError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(op), std::string::npos) << msg;
    EXPECT_NE(msg.find(shape), std::string::npos) << msg;
  }
}

TEST_F(EntryPointChecks, ShapeMismatchesThrowSynchronously) {
  std::vector<float> x(5 * 96);
  std::vector<float> w(95 * 101);
  std::vector<float> out(5 * 101);
  expect_internal(
      [&] {
        linear(*s_, hv(x, DType::F32, {5, 96}), hv(w, DType::F32, {95, 101}), WeightLayout::KN, TensorView{},
               Activation::None, hv(out, DType::F32, {5, 101}));
      },
      "linear", "[95, 101]");
  std::vector<std::int32_t> wi(96 * 101);  // f32, f16 and bf16 are weights; i32 is not
  expect_internal(
      [&] {
        linear(*s_, hv(x, DType::F32, {5, 96}), hv(wi, DType::I32, {96, 101}), WeightLayout::KN, TensorView{},
               Activation::None, hv(out, DType::F32, {5, 101}));
      },
      "linear", "i32");
  std::vector<float> qkv(4 * 3 * 96);
  std::vector<std::int32_t> off{0, 4};
  std::vector<float> ao(4 * 96);
  expect_internal(
      [&] { attention_prefill(*s_, hv(qkv, DType::F32, {4, 288}), hv(off, DType::I32, {2}), 5, hv(ao, DType::F32, {4, 96})); },
      "attention_prefill", "[4, 288]");
  std::vector<float> z(2 * 101);
  std::vector<std::int32_t> ids(2);
  SamplingParams p;
  p.greedy = false;
  p.temperature = 0.0f;
  expect_internal(
      [&] {
        sample(*s_, hv(z, DType::F32, {2, 101}), p, hv(ids, DType::I32, {2}), hv(ids, DType::I32, {2}),
               hv(ids, DType::I32, {2}));
      },
      "sample", "[2, 101]");
  std::vector<float> kc(2 * 8 * 96);
  std::vector<std::int32_t> idx(3);
  expect_internal(
      [&] {
        kv_append(*s_, hv(qkv, DType::F32, {4, 288}), hv(idx, DType::I32, {3}), hv(idx, DType::I32, {3}),
                  hv(kc, DType::F32, {2, 8, 96}), hv(kc, DType::F32, {2, 8, 96}));
      },
      "kv_append", "[3]");
  s_->synchronize();  // nothing was enqueued, nothing to rethrow
}

// Index operands are data: the CPU implementation checks them when it runs; the error poisons the
// stream and synchronize() rethrows it.
TEST_F(EntryPointChecks, OutOfRangeIndexSurfacesAtSynchronize) {
  std::vector<std::int32_t> ids{0, 101};
  std::vector<std::int32_t> pos{0, 1};
  std::vector<float> wte(101 * 8);
  std::vector<float> wpe(4 * 8);
  std::vector<float> out(2 * 8);
  embedding(*s_, hv(ids, DType::I32, {2}), hv(pos, DType::I32, {2}), hv(wte, DType::F32, {101, 8}),
            hv(wpe, DType::F32, {4, 8}), hv(out, DType::F32, {2, 8}));
  try {
    s_->synchronize();
    ADD_FAILURE() << "no error";
  } catch (const InternalError& e) {
    EXPECT_NE(std::string(e.what()).find("ids[1] = 101"), std::string::npos) << e.what();
  }
  std::vector<float> qkv(2 * 24);
  std::vector<std::int32_t> seq{0, 0};
  std::vector<std::int32_t> len{0, 1};
  std::vector<float> kc(1 * 4 * 8);
  std::vector<float> o(2 * 8);
  attention_decode(*s_, hv(qkv, DType::F32, {2, 24}), hv(kc, DType::F32, {1, 4, 8}), hv(kc, DType::F32, {1, 4, 8}),
                   hv(seq, DType::I32, {2}), hv(len, DType::I32, {2}), 2, hv(o, DType::F32, {2, 8}));
  EXPECT_THROW(s_->synchronize(), InternalError);
}

#ifndef FERRY_HAVE_CUDA
// A stream that claims to be a CUDA stream: without CUDA compiled in, every entry point refuses it.
class FakeCudaStream final : public Stream {
 public:
  DeviceKind device() const override { return DeviceKind::CUDA; }
  int id() const override { return 0; }
  void synchronize() override {}
  void* native_handle() override { return nullptr; }
};

TEST(EntryPoints, CudaStreamWithoutCudaIsAnInternalError) {
  FakeCudaStream s;
  std::vector<float> x(4 * 8);
  try {
    activation(s, hv(x, DType::F32, {4, 8}), Activation::GeluTanh);
    ADD_FAILURE() << "no error";
  } catch (const InternalError& e) {
    EXPECT_NE(std::string(e.what()).find("activation: built without CUDA"), std::string::npos) << e.what();
  }
}
#endif

}  // namespace
}  // namespace ferry::ops
