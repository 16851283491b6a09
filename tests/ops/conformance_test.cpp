// Op conformance (in the spirit of ggml's test-backend-ops): every op runs through its entry point
// (ops/ops.h) on the device under test and is compared with the scalar reference (ops/reference.h)
// under a per-op error bound, with guard bytes around every buffer.
//
// This file builds twice: ops_conformance_test (suite "Cpu", the CPU backend) and, with
// FERRY_OPS_TEST_CUDA=1, ops_conformance_gpu_test (suite "Cuda", label gpu), which skips visibly
// when there is no GPU. Shapes are deliberately odd: 3 heads, hidden 96, vocab 101, sequences of
// length 1, a nested batch of lengths {1, 7, 3, 16}.
//
// Error bounds, elementwise |got - ref| <= atol + rtol * |ref| (ref in double, rounded to f32):
//   embedding, kv_append           exact on CPU; 1e-6 on CUDA (a copy and one f32 add)
//   add_layernorm                  CPU 1e-5 / 1e-5; CUDA 1e-4 / 1e-4
//   linear, logits (K = 96)        CPU 1e-4 / 1e-4 (f32 sgemm or the ISA kernels, every weight dtype:
//                                  the reference uses the rounded weights, the CPU widens them
//                                  exactly); CUDA f32 5e-3 / 5e-3 (allows TF32);
//                                  CUDA f16/bf16 weights 2e-2 / 2e-2 (the reference uses the rounded
//                                  weights; activations may be rounded for the tensor cores)
//   linear_residual, linear_swiglu as linear (residual + scale * ref linear; ref swiglu of it)
//   activation                     CPU 1e-6 / 1e-5; CUDA 1e-5 / 1e-4 (fast intrinsics)
//   the CPU kernels' vector exp    1e-6 relative to double (SiLU; GELU allowing for its argument)
//   attention prefill / decode     CPU 1e-4 / 1e-4; CUDA 1e-3 / 1e-3
//   attention_prefill_unfused      the same as attention prefill (same reference semantics)
//   add                            exact on CPU; 1e-6 on CUDA (one f32 add)
//   decode vs prefill's last row   1e-5 / 1e-5 (same device, same keys)
//   sample                         token ids identical to the reference
//   add_rmsnorm                    as add_layernorm
//   swiglu                         as activation
//   scale, embedding_lookup        as embedding (exact on CPU)
//   rope                           CPU 1e-5 / 1e-5 (same f32 angle as the reference); CUDA 1e-4 / 1e-4
//   GQA prefill / decode           as attention prefill / decode; kv_append exact;
//                                  GPT-2 signatures vs GQA overloads with n_kv = n_heads: bit-identical
// The LLaMA-family ops and grouped-query attention run on both backends, with f32/f16/bf16 weights
// (gamma, wte), GQA ratios 1, 3, 5 and head dims 16..128. The CPU tests run once per ISA path.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"
#include "ops/ops.h"
#include "ops/reference.h"
#include "tests/ops/op_harness.h"

#if FERRY_OPS_TEST_CUDA
#define OPS_TEST(name) TEST(Cuda, name)
#else
#include "ops/cpu_isa/isa.h"
#define OPS_TEST(name) TEST_P(Cpu, name)
#endif

namespace ferry::ops::testing {
namespace {

#if !FERRY_OPS_TEST_CUDA
// Every CPU test runs once per ISA path of ops/cpu_isa (Isa/Cpu.<Test>/generic, .../avx2,
// .../avx512); a path this CPU cannot run is reported as skipped.
class Cpu : public ::testing::TestWithParam<cpu::Isa> {
 protected:
  void SetUp() override {
    if (!cpu::isa_supported(GetParam()))
      GTEST_SKIP() << "this CPU cannot run the " << cpu::isa_name(GetParam()) << " kernels (" << cpu::cpu_isa_description()
                   << "): not tested here";
    cpu::set_cpu_isa(GetParam());
  }
  void TearDown() override { cpu::set_cpu_isa(cpu::best_isa()); }
};
INSTANTIATE_TEST_SUITE_P(Isa, Cpu, ::testing::ValuesIn(cpu::all_isas()),
                         [](const ::testing::TestParamInfo<cpu::Isa>& i) { return std::string(cpu::isa_name(i.param)); });
#endif

constexpr Bound kExact = kCuda ? Bound{1e-6, 1e-6} : Bound{0.0, 0.0};
constexpr Bound kLayerNorm = kCuda ? Bound{1e-4, 1e-4} : Bound{1e-5, 1e-5};
constexpr Bound kActivation = kCuda ? Bound{1e-5, 1e-4} : Bound{1e-6, 1e-5};
constexpr Bound kAttention = kCuda ? Bound{1e-3, 1e-3} : Bound{1e-4, 1e-4};
constexpr Bound kSameDevice{1e-5, 1e-5};
Bound gemm_bound(DType w) {
  if (!kCuda) return {1e-4, 1e-4};
  return w == DType::F32 ? Bound{5e-3, 5e-3} : Bound{2e-2, 2e-2};
}

const std::vector<int> kLengths{1, 7, 3, 16};  // nested batch, T = 27
constexpr int kTokens = 27;
constexpr int kHidden = 96;
constexpr int kHeads = 3;
constexpr int kVocab = 101;

std::string desc(DType w) { return std::string("weights ") + dtype_name(w); }

// ---- embedding ---------------------------------------------------------------------------------
OPS_TEST(Embedding) {
  FERRY_OPEN_DEVICE_OR_SKIP(dev);
  constexpr int kCtx = 37;
  std::vector<std::int32_t> ids(kTokens);
  std::vector<std::int32_t> pos;
  for (int t = 0; t < kTokens; ++t) ids[t] = (t * 37 + 11) % kVocab;
  ids[0] = 0;
  ids[5] = kVocab - 1;
  for (int l : kLengths)
    for (int p = 0; p < l; ++p) pos.push_back(p);
  pos[kTokens - 1] = kCtx - 1;
  for (DType wt : weight_dtypes()) {
    SCOPED_TRACE(desc(wt));
    auto wte = uniform(kVocab * kHidden, -1, 1, 1);
    auto wpe = uniform(kCtx * kHidden, -0.5f, 0.5f, 2);
    DevBuf d_ids(ids, DType::I32, {kTokens});
    DevBuf d_pos(pos, DType::I32, {kTokens});
    auto d_wte = weights(wte, wt, {kVocab, kHidden});
    auto d_wpe = weights(wpe, wt, {kCtx, kHidden});
    DevBuf d_out(DType::F32, {kTokens, kHidden});
    embedding(dev->s(), d_ids.view(), d_pos.view(), d_wte->view(), d_wpe->view(), d_out.view());
    dev->s().synchronize();

    std::vector<float> want(kTokens * kHidden);
    ref::embedding(host(ids, DType::I32, {kTokens}), host(pos, DType::I32, {kTokens}),
                   host(wte, DType::F32, {kVocab, kHidden}), host(wpe, DType::F32, {kCtx, kHidden}),
                   host(want, DType::F32, {kTokens, kHidden}));
    EXPECT_TRUE(close(d_out.read<float>(), want, kExact));
    d_out.expect_guards("out");
    d_wte->expect_guards("wte");
    d_ids.expect_guards("ids");
  }
}

// ---- add_layernorm -----------------------------------------------------------------------------
OPS_TEST(AddLayerNorm) {
  FERRY_OPEN_DEVICE_OR_SKIP(dev);
  for (DType wt : weight_dtypes()) {
    for (bool with_delta : {true, false}) {
      SCOPED_TRACE(desc(wt) + (with_delta ? ", delta present" : ", delta absent"));
      auto residual = uniform(kTokens * kHidden, 2, 4, 3);  // mean ~3: the centring matters
      auto delta = uniform(kTokens * kHidden, -1, 1, 4);
      auto gamma = uniform(kHidden, 0.5f, 1.5f, 5);
      auto beta = uniform(kHidden, -0.2f, 0.2f, 6);
      const float eps = 1e-5f;
      DevBuf d_res(residual, DType::F32, {kTokens, kHidden});
      DevBuf d_delta(delta, DType::F32, {kTokens, kHidden});
      auto d_gamma = weights(gamma, wt, {kHidden});
      auto d_beta = weights(beta, wt, {kHidden});
      DevBuf d_out(DType::F32, {kTokens, kHidden});
      const TensorView dv = with_delta ? d_delta.view() : TensorView{};  // absent: data null
      add_layernorm(dev->s(), d_res.view(), dv, d_gamma->view(), d_beta->view(), eps, d_out.view());
      dev->s().synchronize();

      std::vector<float> want(kTokens * kHidden);
      TensorView hd = with_delta ? host(delta, DType::F32, {kTokens, kHidden}) : TensorView{};
      ref::add_layernorm(host(residual, DType::F32, {kTokens, kHidden}), hd, host(gamma, DType::F32, {kHidden}),
                         host(beta, DType::F32, {kHidden}), eps, host(want, DType::F32, {kTokens, kHidden}));
      EXPECT_TRUE(close(d_res.read<float>(), residual, kExact)) << "residual after the add";
      EXPECT_TRUE(close(d_out.read<float>(), want, kLayerNorm)) << "out";
      d_res.expect_guards("residual");
      d_out.expect_guards("out");
    }
  }
}

// ---- linear ------------------------------------------------------------------------------------
struct LinearCase {
  int tokens;
  int k;
  int n;
  WeightLayout layout;
  bool bias;
  Activation act;
};

void run_linear(Device& dev, const LinearCase& c, DType wt) {
  SCOPED_TRACE(std::string("T=") + std::to_string(c.tokens) + " K=" + std::to_string(c.k) +
               " N=" + std::to_string(c.n) + (c.layout == WeightLayout::KN ? " KN" : " NK") +
               (c.bias ? " bias" : " no-bias") + " " + activation_name(c.act) + " " + desc(wt));
  auto x = uniform(static_cast<std::size_t>(c.tokens) * c.k, -1, 1, 7);
  auto w = uniform(static_cast<std::size_t>(c.k) * c.n, -0.3f, 0.3f, 8);
  auto b = uniform(static_cast<std::size_t>(c.n), -0.5f, 0.5f, 9);
  const Shape ws = c.layout == WeightLayout::KN ? Shape{c.k, c.n} : Shape{c.n, c.k};
  DevBuf d_x(x, DType::F32, {c.tokens, c.k});
  auto d_w = weights(w, wt, ws);
  auto d_b = weights(b, wt, {c.n});
  DevBuf d_out(DType::F32, {c.tokens, c.n});
  TensorView bias = c.bias ? d_b->view() : TensorView{};
  linear(dev.s(), d_x.view(), d_w->view(), c.layout, bias, c.act, d_out.view());
  dev.s().synchronize();

  std::vector<float> want(static_cast<std::size_t>(c.tokens) * c.n);
  ref::linear(host(x, DType::F32, {c.tokens, c.k}), host(w, DType::F32, ws), c.layout,
              c.bias ? host(b, DType::F32, {c.n}) : TensorView{}, c.act, host(want, DType::F32, {c.tokens, c.n}));
  EXPECT_TRUE(close(d_out.read<float>(), want, gemm_bound(wt)));
  d_out.expect_guards("out");
  d_x.expect_guards("x");
}

OPS_TEST(Linear) {
  FERRY_OPEN_DEVICE_OR_SKIP(dev);
  for (DType wt : weight_dtypes())
    for (WeightLayout layout : {WeightLayout::KN, WeightLayout::NK})
      for (bool bias : {true, false})
        for (Activation act : {Activation::None, Activation::GeluTanh, Activation::GeluErf, Activation::Tanh})
          run_linear(*dev, {kTokens, kHidden, kVocab, layout, bias, act}, wt);
}

OPS_TEST(LinearOddShapes) {
  FERRY_OPEN_DEVICE_OR_SKIP(dev);
  for (DType wt : weight_dtypes()) {
    run_linear(*dev, {1, kHidden, 3 * kHidden, WeightLayout::KN, true, Activation::None}, wt);      // one token
    run_linear(*dev, {5, 4 * kHidden, kHidden, WeightLayout::KN, true, Activation::GeluTanh}, wt);  // MLP down
    run_linear(*dev, {3, 13, 7, WeightLayout::NK, true, Activation::GeluErf}, wt);                  // tiny, odd
    // The matrix-vector kernels' edges: K and N off every vector width, fewer than four rows,
    // N split over the threads at a non-multiple of 16, two and four rows.
    for (WeightLayout layout : {WeightLayout::KN, WeightLayout::NK}) {
      run_linear(*dev, {1, 13, 7, layout, true, Activation::None}, wt);
      run_linear(*dev, {1, 97, 333, layout, true, Activation::GeluTanh}, wt);
      run_linear(*dev, {1, 1031, 517, layout, false, Activation::None}, wt);
      run_linear(*dev, {2, 33, 65, layout, true, Activation::None}, wt);
      run_linear(*dev, {4, 257, 129, layout, true, Activation::GeluErf}, wt);
    }
  }
}

// ---- linear_residual, linear_swiglu (the fused epilogues) ---------------------------------------
void run_linear_residual(Device& dev, int tokens, int k, int n, WeightLayout layout, float scale, DType wt) {
  SCOPED_TRACE(std::string("linear_residual T=") + std::to_string(tokens) + " K=" + std::to_string(k) + " N=" +
               std::to_string(n) + (layout == WeightLayout::KN ? " KN" : " NK") + " scale " + std::to_string(scale) +
               " " + desc(wt));
  auto x = uniform(static_cast<std::size_t>(tokens) * k, -1, 1, 21);
  auto w = uniform(static_cast<std::size_t>(k) * n, -0.3f, 0.3f, 22);
  auto b = uniform(static_cast<std::size_t>(n), -0.5f, 0.5f, 23);
  auto residual = uniform(static_cast<std::size_t>(tokens) * n, -2, 2, 24);
  const Shape ws = layout == WeightLayout::KN ? Shape{k, n} : Shape{n, k};
  DevBuf d_x(x, DType::F32, {tokens, k});
  auto d_w = weights(w, wt, ws);
  auto d_b = weights(b, wt, {n});
  DevBuf d_tmp(DType::F32, {tokens, n});
  DevBuf d_res(residual, DType::F32, {tokens, n});
  linear_residual(dev.s(), d_x.view(), d_w->view(), layout, d_b->view(), scale, d_tmp.view(), d_res.view());
  dev.s().synchronize();
  std::vector<float> want(static_cast<std::size_t>(tokens) * n);
  ref::linear(host(x, DType::F32, {tokens, k}), host(w, DType::F32, ws), layout, host(b, DType::F32, {n}),
              Activation::None, host(want, DType::F32, {tokens, n}));
  for (std::size_t i = 0; i < want.size(); ++i) want[i] = residual[i] + scale * want[i];
  EXPECT_TRUE(close(d_res.read<float>(), want, gemm_bound(wt)));
  d_res.expect_guards("residual");
  d_tmp.expect_guards("tmp");
}

OPS_TEST(LinearResidual) {
  FERRY_OPEN_DEVICE_OR_SKIP(dev);
  for (DType wt : weight_dtypes())
    for (WeightLayout layout : {WeightLayout::KN, WeightLayout::NK})
      for (float scale : {1.0f, 0.22f})
        for (int tokens : {1, 5}) {
          run_linear_residual(*dev, tokens, kHidden, kVocab, layout, scale, wt);
          run_linear_residual(*dev, tokens, 1031, 333, layout, scale, wt);  // odd K, N off every width
        }
}

OPS_TEST(LinearSwiGlu) {
  FERRY_OPEN_DEVICE_OR_SKIP(dev);
  for (DType wt : weight_dtypes())
    for (int tokens : {1, 5})
      for (int f : {7, 333}) {
        SCOPED_TRACE(std::string("linear_swiglu T=") + std::to_string(tokens) + " F=" + std::to_string(f) + " " + desc(wt));
        const int k = 97;
        auto x = uniform(static_cast<std::size_t>(tokens) * k, -1, 1, 25);
        auto w = uniform(static_cast<std::size_t>(2 * f) * k, -0.3f, 0.3f, 26);
        DevBuf d_x(x, DType::F32, {tokens, k});
        auto d_w = weights(w, wt, {2 * f, k});
        DevBuf d_gu(DType::F32, {tokens, 2 * f});
        DevBuf d_out(DType::F32, {tokens, f});
        linear_swiglu(dev->s(), d_x.view(), d_w->view(), d_gu.view(), d_out.view());
        dev->s().synchronize();
        std::vector<float> gu(static_cast<std::size_t>(tokens) * 2 * f), want(static_cast<std::size_t>(tokens) * f);
        ref::linear(host(x, DType::F32, {tokens, k}), host(w, DType::F32, {2 * f, k}), WeightLayout::NK, TensorView{},
                    Activation::None, host(gu, DType::F32, {tokens, 2 * f}));
        ref::swiglu(host(gu, DType::F32, {tokens, 2 * f}), host(want, DType::F32, {tokens, f}));
        EXPECT_TRUE(close(d_out.read<float>(), want, gemm_bound(wt)));
        d_out.expect_guards("out");
        d_gu.expect_guards("gate_up");
      }
}

// ---- activation --------------------------------------------------------------------------------
OPS_TEST(Activation) {
  FERRY_OPEN_DEVICE_OR_SKIP(dev);
  for (Activation act : {Activation::None, Activation::GeluTanh, Activation::GeluErf, Activation::Tanh}) {
    SCOPED_TRACE(activation_name(act));
    auto x = uniform(5 * kVocab, -6, 6, 10);
    DevBuf d_x(x, DType::F32, {5, kVocab});
    activation(dev->s(), d_x.view(), act);
    dev->s().synchronize();
    ref::activation(host(x, DType::F32, {5, kVocab}), act);
    EXPECT_TRUE(close(d_x.read<float>(), x, kActivation));
    d_x.expect_guards("x");
  }
}

// Where the vectorised exp of the CPU kernels clamps and switches branches: large |x|, the limits
// of f32's exp, tiny values and zero, for GELU and for SiLU * up.
OPS_TEST(ActivationExtremes) {
  FERRY_OPEN_DEVICE_OR_SKIP(dev);
  const std::vector<float> x{-1e4f, -200.0f, -88.5f, -87.5f, -87.0f, -45.0f, -20.0f, -9.0f, -3.0f, -1e-3f, -1e-7f,
                             0.0f,  1e-7f,   1e-3f,   3.0f,    9.0f,    20.0f,  45.0f,  87.5f, 88.5f, 200.0f, 1e4f};
  const int n = static_cast<int>(x.size());
  for (Activation act : {Activation::GeluTanh, Activation::GeluErf}) {
    SCOPED_TRACE(activation_name(act));
    auto v = x;
    DevBuf d_x(v, DType::F32, {1, n});
    activation(dev->s(), d_x.view(), act);
    dev->s().synchronize();
    ref::activation(host(v, DType::F32, {1, n}), act);
    EXPECT_TRUE(close(d_x.read<float>(), v, kActivation));
  }
  std::vector<float> gu = x;  // gate = x, up = 1.5
  gu.insert(gu.end(), x.size(), 1.5f);
  DevBuf d_gu(gu, DType::F32, {1, 2 * n});
  DevBuf d_out(DType::F32, {1, n});
  swiglu(dev->s(), d_gu.view(), d_out.view());
  dev->s().synchronize();
  std::vector<float> want(x.size());
  ref::swiglu(host(gu, DType::F32, {1, 2 * n}), host(want, DType::F32, {1, n}));
  EXPECT_TRUE(close(d_out.read<float>(), want, kActivation)) << "swiglu";
}

// ---- add ---------------------------------------------------------------------------------------
OPS_TEST(Add) {
  FERRY_OPEN_DEVICE_OR_SKIP(dev);
  for (const Shape& shape : {Shape{kTokens, kHidden}, Shape{1, 7}, Shape{3, 5, 11}}) {
    SCOPED_TRACE("shape " + shape.str());
    const auto n = static_cast<std::size_t>(shape.numel());
    auto x = uniform(n, -4, 4, 31);
    auto y = uniform(n, -1e-3f, 1e-3f, 32);  // small against x: the rounding of the sum matters
    DevBuf d_x(x, DType::F32, shape);
    DevBuf d_y(y, DType::F32, shape);
    add(dev->s(), d_x.view(), d_y.view());
    dev->s().synchronize();
    ref::add(host(x, DType::F32, shape), host(y, DType::F32, shape));
    EXPECT_TRUE(close(d_x.read<float>(), x, kExact));
    EXPECT_TRUE(close(d_y.read<float>(), y, {0, 0})) << "y must not change";
    d_x.expect_guards("x");
    d_y.expect_guards("y");
  }
}

// ---- logits ------------------------------------------------------------------------------------
OPS_TEST(Logits) {
  FERRY_OPEN_DEVICE_OR_SKIP(dev);
  for (DType wt : weight_dtypes()) {
    for (int tokens : {kTokens, 1}) {
      SCOPED_TRACE(desc(wt) + ", T=" + std::to_string(tokens));
      auto x = uniform(static_cast<std::size_t>(tokens) * kHidden, -1, 1, 11);
      auto wte = uniform(kVocab * kHidden, -0.3f, 0.3f, 12);
      DevBuf d_x(x, DType::F32, {tokens, kHidden});
      auto d_wte = weights(wte, wt, {kVocab, kHidden});
      DevBuf d_out(DType::F32, {tokens, kVocab});
      logits(dev->s(), d_x.view(), d_wte->view(), d_out.view());
      dev->s().synchronize();
      std::vector<float> want(static_cast<std::size_t>(tokens) * kVocab);
      ref::logits(host(x, DType::F32, {tokens, kHidden}), host(wte, DType::F32, {kVocab, kHidden}),
                  host(want, DType::F32, {tokens, kVocab}));
      EXPECT_TRUE(close(d_out.read<float>(), want, gemm_bound(wt)));
      d_out.expect_guards("out");
    }
  }
}

// ---- attention ---------------------------------------------------------------------------------
// Prefill of a nested batch; `sharp` scales q so the scores are large and the running maximum of
// the online softmax changes often.
void run_prefill(Device& dev, const std::vector<int>& lengths, int hidden, int heads, float sharp) {
  SCOPED_TRACE("heads=" + std::to_string(heads) + " hidden=" + std::to_string(hidden) +
               " sharp=" + std::to_string(sharp));
  auto off = offsets_of(lengths);
  const int tokens = off.back();
  const int batch = static_cast<int>(lengths.size());
  auto qkv = uniform(static_cast<std::size_t>(tokens) * 3 * hidden, -1, 1, 13);
  for (int t = 0; t < tokens; ++t)
    for (int i = 0; i < hidden; ++i) qkv[static_cast<std::size_t>(t) * 3 * hidden + i] *= sharp;
  DevBuf d_qkv(qkv, DType::F32, {tokens, 3 * hidden});
  DevBuf d_off(off, DType::I32, {batch + 1});
  DevBuf d_out(DType::F32, {tokens, hidden});
  attention_prefill(dev.s(), d_qkv.view(), d_off.view(), heads, d_out.view());
  dev.s().synchronize();
  std::vector<float> want(static_cast<std::size_t>(tokens) * hidden);
  ref::attention_prefill(host(qkv, DType::F32, {tokens, 3 * hidden}), host(off, DType::I32, {batch + 1}), heads,
                         host(want, DType::F32, {tokens, hidden}));
  EXPECT_TRUE(close(d_out.read<float>(), want, kAttention));
  EXPECT_TRUE(close(d_qkv.read<float>(), qkv, {0, 0})) << "qkv must not change";
  d_out.expect_guards("out");
  d_off.expect_guards("offsets");
}

OPS_TEST(AttentionPrefill) {
  FERRY_OPEN_DEVICE_OR_SKIP(dev);
  run_prefill(*dev, kLengths, kHidden, kHeads, 1.0f);
  run_prefill(*dev, kLengths, kHidden, kHeads, 8.0f);
  run_prefill(*dev, {1}, kHidden, kHeads, 1.0f);       // one token: out = v
  run_prefill(*dev, {5, 1, 1, 9}, 12, 3, 2.0f);        // head dim 4
  run_prefill(*dev, {33}, 2 * 64, 2, 1.0f);            // head dim 64, longer sequence
}

// The unfused path (materialised scores) against the same reference as the flash-style prefill.
// max_len is deliberately larger than the longest sequence, so rows of the workspace stay unused.
void run_prefill_unfused(Device& dev, const std::vector<int>& lengths, int hidden, int heads, float sharp,
                         int max_len) {
  SCOPED_TRACE("unfused heads=" + std::to_string(heads) + " hidden=" + std::to_string(hidden) +
               " sharp=" + std::to_string(sharp) + " max_len=" + std::to_string(max_len));
  auto off = offsets_of(lengths);
  const int tokens = off.back();
  const int batch = static_cast<int>(lengths.size());
  auto qkv = uniform(static_cast<std::size_t>(tokens) * 3 * hidden, -1, 1, 33);
  for (int t = 0; t < tokens; ++t)
    for (int i = 0; i < hidden; ++i) qkv[static_cast<std::size_t>(t) * 3 * hidden + i] *= sharp;
  DevBuf d_qkv(qkv, DType::F32, {tokens, 3 * hidden});
  DevBuf d_off(off, DType::I32, {batch + 1});
  DevBuf d_scores(DType::F32, {heads, max_len, max_len});
  DevBuf d_out(DType::F32, {tokens, hidden});
  attention_prefill_unfused(dev.s(), d_qkv.view(), d_off.view(), heads, d_scores.view(), d_out.view());
  dev.s().synchronize();
  std::vector<float> want(static_cast<std::size_t>(tokens) * hidden);
  std::vector<float> scratch(static_cast<std::size_t>(heads) * max_len * max_len);
  ref::attention_prefill_unfused(host(qkv, DType::F32, {tokens, 3 * hidden}), host(off, DType::I32, {batch + 1}), heads,
                                 host(scratch, DType::F32, {heads, max_len, max_len}),
                                 host(want, DType::F32, {tokens, hidden}));
  EXPECT_TRUE(close(d_out.read<float>(), want, kAttention));
  // The reference of the unfused op agrees with the flash-style reference: one semantics.
  std::vector<float> flash(want.size());
  ref::attention_prefill(host(qkv, DType::F32, {tokens, 3 * hidden}), host(off, DType::I32, {batch + 1}), heads,
                         host(flash, DType::F32, {tokens, hidden}));
  EXPECT_TRUE(close(want, flash, {1e-6, 1e-6})) << "unfused reference vs flash reference";
  EXPECT_TRUE(close(d_qkv.read<float>(), qkv, {0, 0})) << "qkv must not change";
  d_out.expect_guards("out");
  d_scores.expect_guards("scores");
  d_off.expect_guards("offsets");
}

OPS_TEST(AttentionPrefillUnfused) {
  FERRY_OPEN_DEVICE_OR_SKIP(dev);
  run_prefill_unfused(*dev, kLengths, kHidden, kHeads, 1.0f, 16);
  run_prefill_unfused(*dev, kLengths, kHidden, kHeads, 8.0f, 19);
  run_prefill_unfused(*dev, {1}, kHidden, kHeads, 1.0f, 1);  // one token: out = v
  run_prefill_unfused(*dev, {5, 1, 1, 9}, 12, 3, 2.0f, 9);   // head dim 4
  run_prefill_unfused(*dev, {33}, 2 * 64, 2, 1.0f, 40);      // head dim 64, longer sequence
}

// Caches [S=5, cap=20, H] holding sequences in slots {3, 0, 4, 1} (deliberately not 0..B-1).
const std::vector<std::int32_t> kSlots{3, 0, 4, 1};
constexpr int kSlotCount = 5;
constexpr int kCap = 20;

OPS_TEST(KvAppend) {
  FERRY_OPEN_DEVICE_OR_SKIP(dev);
  auto qkv = uniform(kTokens * 3 * kHidden, -1, 1, 14);
  std::vector<std::int32_t> seq;
  std::vector<std::int32_t> pos;
  for (std::size_t b = 0; b < kLengths.size(); ++b)
    for (int p = 0; p < kLengths[b]; ++p) {
      seq.push_back(kSlots[b]);
      pos.push_back(p + static_cast<int>(b));  // not starting at 0 either
    }
  const Shape cs{kSlotCount, kCap, kHidden};
  auto kc = uniform(kSlotCount * kCap * kHidden, -9, 9, 15);  // existing contents must survive
  auto vc = uniform(kSlotCount * kCap * kHidden, -9, 9, 16);
  DevBuf d_qkv(qkv, DType::F32, {kTokens, 3 * kHidden});
  DevBuf d_seq(seq, DType::I32, {kTokens});
  DevBuf d_pos(pos, DType::I32, {kTokens});
  DevBuf d_k(kc, DType::F32, cs);
  DevBuf d_v(vc, DType::F32, cs);
  kv_append(dev->s(), d_qkv.view(), d_seq.view(), d_pos.view(), d_k.view(), d_v.view());
  dev->s().synchronize();
  ref::kv_append(host(qkv, DType::F32, {kTokens, 3 * kHidden}), host(seq, DType::I32, {kTokens}),
                 host(pos, DType::I32, {kTokens}), host(kc, DType::F32, cs), host(vc, DType::F32, cs));
  EXPECT_TRUE(close(d_k.read<float>(), kc, kExact)) << "k_cache";
  EXPECT_TRUE(close(d_v.read<float>(), vc, kExact)) << "v_cache";
  d_k.expect_guards("k_cache");
  d_v.expect_guards("v_cache");
}

OPS_TEST(AttentionDecode) {
  FERRY_OPEN_DEVICE_OR_SKIP(dev);
  const int batch = static_cast<int>(kLengths.size());
  const Shape cs{kSlotCount, kCap, kHidden};
  auto qkv = uniform(static_cast<std::size_t>(batch) * 3 * kHidden, -2, 2, 17);
  auto kc = uniform(kSlotCount * kCap * kHidden, -1, 1, 18);
  auto vc = uniform(kSlotCount * kCap * kHidden, -1, 1, 19);
  std::vector<std::int32_t> len(kLengths.begin(), kLengths.end());
  len[2] = kCap;  // a full cache
  std::vector<std::int32_t> seq = kSlots;
  DevBuf d_qkv(qkv, DType::F32, {batch, 3 * kHidden});
  DevBuf d_k(kc, DType::F32, cs);
  DevBuf d_v(vc, DType::F32, cs);
  DevBuf d_seq(seq, DType::I32, {batch});
  DevBuf d_len(len, DType::I32, {batch});
  DevBuf d_out(DType::F32, {batch, kHidden});
  attention_decode(dev->s(), d_qkv.view(), d_k.view(), d_v.view(), d_seq.view(), d_len.view(), kHeads, d_out.view());
  dev->s().synchronize();
  std::vector<float> want(static_cast<std::size_t>(batch) * kHidden);
  ref::attention_decode(host(qkv, DType::F32, {batch, 3 * kHidden}), host(kc, DType::F32, cs),
                        host(vc, DType::F32, cs), host(seq, DType::I32, {batch}), host(len, DType::I32, {batch}),
                        kHeads, host(want, DType::F32, {batch, kHidden}));
  EXPECT_TRUE(close(d_out.read<float>(), want, kAttention));
  d_out.expect_guards("out");
  d_k.expect_guards("k_cache");
}

// Decoding the last token of a sequence against a cache filled by kv_append must give prefill's
// last row for that sequence.
OPS_TEST(DecodeMatchesPrefillLastRow) {
  FERRY_OPEN_DEVICE_OR_SKIP(dev);
  auto off = offsets_of(kLengths);
  const int batch = static_cast<int>(kLengths.size());
  auto qkv = uniform(kTokens * 3 * kHidden, -1.5f, 1.5f, 20);
  std::vector<std::int32_t> seq;
  std::vector<std::int32_t> pos;
  for (int b = 0; b < batch; ++b)
    for (int p = 0; p < kLengths[b]; ++p) {
      seq.push_back(kSlots[b]);
      pos.push_back(p);
    }
  DevBuf d_qkv(qkv, DType::F32, {kTokens, 3 * kHidden});
  DevBuf d_off(off, DType::I32, {batch + 1});
  DevBuf d_prefill(DType::F32, {kTokens, kHidden});
  DevBuf d_seq(seq, DType::I32, {kTokens});
  DevBuf d_pos(pos, DType::I32, {kTokens});
  const Shape cs{kSlotCount, kCap, kHidden};
  std::vector<float> zeros(kSlotCount * kCap * kHidden, 0.0f);
  DevBuf d_k(zeros, DType::F32, cs);
  DevBuf d_v(zeros, DType::F32, cs);
  attention_prefill(dev->s(), d_qkv.view(), d_off.view(), kHeads, d_prefill.view());
  kv_append(dev->s(), d_qkv.view(), d_seq.view(), d_pos.view(), d_k.view(), d_v.view());

  // The decode batch: each sequence's last qkv row, attending to its whole cached length.
  std::vector<float> last_qkv;
  std::vector<std::int32_t> len(kLengths.begin(), kLengths.end());
  for (int b = 0; b < batch; ++b) {
    const auto row = qkv.begin() + static_cast<std::ptrdiff_t>(off[b + 1] - 1) * 3 * kHidden;
    last_qkv.insert(last_qkv.end(), row, row + 3 * kHidden);
  }
  std::vector<std::int32_t> slots = kSlots;
  DevBuf d_last(last_qkv, DType::F32, {batch, 3 * kHidden});
  DevBuf d_slots(slots, DType::I32, {batch});
  DevBuf d_len(len, DType::I32, {batch});
  DevBuf d_decode(DType::F32, {batch, kHidden});
  attention_decode(dev->s(), d_last.view(), d_k.view(), d_v.view(), d_slots.view(), d_len.view(), kHeads,
                   d_decode.view());
  dev->s().synchronize();

  const auto prefill = d_prefill.read<float>();
  std::vector<float> want;
  for (int b = 0; b < batch; ++b) {
    const auto row = prefill.begin() + static_cast<std::ptrdiff_t>(off[b + 1] - 1) * kHidden;
    want.insert(want.end(), row, row + kHidden);
  }
  EXPECT_TRUE(close(d_decode.read<float>(), want, kSameDevice));
  d_decode.expect_guards("decode out");
  d_prefill.expect_guards("prefill out");
}

// ---- LLaMA family ------------------------------------------------------------------------------
// Bounds: add_rmsnorm as add_layernorm; swiglu as activation; scale and embedding_lookup exact on the
// CPU; rope CPU 1e-5 / 1e-5 (the reference takes the same f32 angle, cos/sin in double); CUDA 1e-4 /
// 1e-4 (the same f32 angle too: its frequencies are computed on the host; device sincosf).
constexpr Bound kRope = kCuda ? Bound{1e-4, 1e-4} : Bound{1e-5, 1e-5};

OPS_TEST(AddRmsNorm) {
  FERRY_OPEN_DEVICE_OR_SKIP(dev);
  for (DType wt : weight_dtypes()) {
    for (int hidden : {1, 16, 37, 80, 128, 2051}) {  // 2051: more than 1024 threads' worth, odd
      for (int tokens : {1, 7, 13}) {
        for (bool with_delta : {true, false}) {
          SCOPED_TRACE("T=" + std::to_string(tokens) + " H=" + std::to_string(hidden) +
                       (with_delta ? " delta" : " no delta") + ", " + desc(wt));
          const Shape sh{tokens, hidden};
          auto residual = uniform(static_cast<std::size_t>(tokens) * hidden, -2, 3, 40);
          auto delta = uniform(static_cast<std::size_t>(tokens) * hidden, -1, 1, 41);
          auto gamma = uniform(hidden, 0.5f, 1.5f, 42);
          const float eps = 1e-6f;
          const float ds = 0.22f;  // Granite's residual_multiplier
          DevBuf d_res(residual, DType::F32, sh);
          DevBuf d_delta(delta, DType::F32, sh);
          auto d_gamma = weights(gamma, wt, {hidden});
          DevBuf d_out(DType::F32, sh);
          add_rmsnorm(dev->s(), d_res.view(), with_delta ? d_delta.view() : TensorView{}, ds, d_gamma->view(), eps,
                      d_out.view());
          dev->s().synchronize();
          std::vector<float> want(residual.size());
          ref::add_rmsnorm(host(residual, DType::F32, sh), with_delta ? host(delta, DType::F32, sh) : TensorView{}, ds,
                           host(gamma, DType::F32, {hidden}), eps, host(want, DType::F32, sh));
          EXPECT_TRUE(close(d_res.read<float>(), residual, kExact)) << "residual after the add";
          EXPECT_TRUE(close(d_out.read<float>(), want, kLayerNorm)) << "out";
          d_res.expect_guards("residual");
          d_out.expect_guards("out");
        }
      }
    }
  }
}

OPS_TEST(SwiGlu) {
  FERRY_OPEN_DEVICE_OR_SKIP(dev);
  for (int tokens : {1, 7, 13}) {
    for (int f : {1, 37, 300}) {
      auto gu = uniform(static_cast<std::size_t>(tokens) * 2 * f, -6, 6, 43);
      DevBuf d_gu(gu, DType::F32, {tokens, 2 * f});
      DevBuf d_out(DType::F32, {tokens, f});
      swiglu(dev->s(), d_gu.view(), d_out.view());
      dev->s().synchronize();
      std::vector<float> want(static_cast<std::size_t>(tokens) * f);
      ref::swiglu(host(gu, DType::F32, {tokens, 2 * f}), host(want, DType::F32, {tokens, f}));
      EXPECT_TRUE(close(d_out.read<float>(), want, kActivation)) << "T=" << tokens << " F=" << f;
      EXPECT_TRUE(close(d_gu.read<float>(), gu, {0, 0})) << "gate_up must not change";
      d_out.expect_guards("out");
    }
  }
}

OPS_TEST(Scale) {
  FERRY_OPEN_DEVICE_OR_SKIP(dev);
  for (const Shape& shape : {Shape{13, 101}, Shape{1}, Shape{3, 5, 7}}) {
    SCOPED_TRACE("shape " + shape.str());
    const auto n = static_cast<std::size_t>(shape.numel());
    auto x = uniform(n, -5, 5, 44);
    DevBuf d_x(x, DType::F32, shape);
    scale(dev->s(), d_x.view(), 1.0f / 8.0f);
    dev->s().synchronize();
    ref::scale(host(x, DType::F32, shape), 1.0f / 8.0f);
    EXPECT_TRUE(close(d_x.read<float>(), x, kExact));
    d_x.expect_guards("x");
  }
}

OPS_TEST(EmbeddingLookup) {
  FERRY_OPEN_DEVICE_OR_SKIP(dev);
  std::vector<std::int32_t> ids(kTokens);
  for (int t = 0; t < kTokens; ++t) ids[t] = (t * 37 + 11) % kVocab;
  ids[0] = 0;
  ids[5] = kVocab - 1;
  for (DType wt : weight_dtypes()) {
    for (float sc : {1.0f, 12.0f}) {
      SCOPED_TRACE("scale " + std::to_string(sc) + ", " + desc(wt));
      auto wte = uniform(kVocab * kHidden, -1, 1, 45);
      DevBuf d_ids(ids, DType::I32, {kTokens});
      auto d_wte = weights(wte, wt, {kVocab, kHidden});  // rounds wte to the stored values
      DevBuf d_out(DType::F32, {kTokens, kHidden});
      embedding_lookup(dev->s(), d_ids.view(), d_wte->view(), sc, d_out.view());
      dev->s().synchronize();
      std::vector<float> want(kTokens * kHidden);
      ref::embedding_lookup(host(ids, DType::I32, {kTokens}), host(wte, DType::F32, {kVocab, kHidden}), sc,
                            host(want, DType::F32, {kTokens, kHidden}));
      EXPECT_TRUE(close(d_out.read<float>(), want, kExact));
      if (sc == 1.0f) {  // scale 1 copies exactly
        const auto got = d_out.read<float>();
        for (int t = 0; t < kTokens; ++t)
          for (int i = 0; i < kHidden; ++i) ASSERT_EQ(got[t * kHidden + i], wte[ids[t] * kHidden + i]);
      }
      d_out.expect_guards("out");
    }
  }
}

OPS_TEST(Rope) {
  FERRY_OPEN_DEVICE_OR_SKIP(dev);
  struct Case {
    int n_kv, ratio, d, scaling;
    int rotary = 0;  // 0: all of head_dim
  };
  const Case cases[] = {{2, 1, 16, 0},     {1, 3, 64, 1},    {2, 5, 80, 2}, {1, 3, 128, 2}, {3, 1, 32, 1},
                        {2, 3, 64, 0, 32}, {1, 5, 96, 2, 48}};  // the last two: partial rotary
  for (const Case& c : cases) {
    for (int tokens : {1, 7, 13}) {
      const AttentionShape a{c.n_kv * c.ratio, c.n_kv, c.d, 1.0f / std::sqrt(static_cast<float>(c.d))};
      RopeParams p;
      p.rotary_dim = c.rotary;
      p.theta = c.scaling == 2 ? 500000.0f : 10000.0f;
      p.scaling = c.scaling;
      p.factor = c.scaling == 1 ? 4.0f : 8.0f;
      SCOPED_TRACE("T=" + std::to_string(tokens) + " D=" + std::to_string(c.d) + " heads=" +
                   std::to_string(a.n_heads) + "/" + std::to_string(a.n_kv_heads) + " scaling=" +
                   std::to_string(c.scaling) + " rotary=" + std::to_string(c.rotary));
      const int width = (a.n_heads + 2 * a.n_kv_heads) * c.d;
      auto qkv = uniform(static_cast<std::size_t>(tokens) * width, -1, 1, 46);
      std::vector<std::int32_t> pos(tokens);
      for (int t = 0; t < tokens; ++t) pos[t] = t * 9973 % 131072;  // large positions
      pos[0] = tokens > 1 ? 0 : 131071;
      DevBuf d_qkv(qkv, DType::F32, {tokens, width});
      DevBuf d_pos(pos, DType::I32, {tokens});
      rope(dev->s(), d_qkv.view(), d_pos.view(), a, p);
      dev->s().synchronize();
      const auto v_before = qkv;
      ref::rope(host(qkv, DType::F32, {tokens, width}), host(pos, DType::I32, {tokens}), a, p);
      const auto got = d_qkv.read<float>();
      EXPECT_TRUE(close(got, qkv, kRope));
      // v is untouched.
      for (int t = 0; t < tokens; ++t)
        for (int i = (a.n_heads + a.n_kv_heads) * c.d; i < width; ++i)
          ASSERT_EQ(got[t * width + i], v_before[t * width + i]);
      d_qkv.expect_guards("qkv");
    }
  }
}

// RoPE by hand: at position 0 nothing changes; D = 2 at position 1 rotates by 1 radian.
OPS_TEST(RopeByHand) {
  FERRY_OPEN_DEVICE_OR_SKIP(dev);
  const AttentionShape a{1, 1, 2, 1.0f};
  std::vector<float> qkv{1.0f, 0.0f, 0.5f, 0.25f, 9.0f, 9.0f, 1.0f, 0.0f, 0.5f, 0.25f, 9.0f, 9.0f};
  std::vector<std::int32_t> pos{0, 1};
  DevBuf d_qkv(qkv, DType::F32, {2, 6});
  DevBuf d_pos(pos, DType::I32, {2});
  rope(dev->s(), d_qkv.view(), d_pos.view(), a, RopeParams{});
  dev->s().synchronize();
  const auto got = d_qkv.read<float>();
  EXPECT_EQ(got[0], 1.0f);
  EXPECT_EQ(got[1], 0.0f);
  EXPECT_NEAR(got[6], std::cos(1.0), 1e-6);
  EXPECT_NEAR(got[7], std::sin(1.0), 1e-6);
  EXPECT_NEAR(got[8], 0.5 * std::cos(1.0) - 0.25 * std::sin(1.0), 1e-6);
  EXPECT_EQ(got[10], 9.0f);
}

// ---- grouped-query attention ---------------------------------------------------------------------
// Bounds as attention prefill / decode; kv_append exact.
void run_gqa(Device& dev, const std::vector<int>& lengths, int n_kv, int ratio, int d, float scale) {
  const AttentionShape a{n_kv * ratio, n_kv, d, scale};
  SCOPED_TRACE("gqa heads=" + std::to_string(a.n_heads) + "/" + std::to_string(n_kv) + " D=" + std::to_string(d));
  auto off = offsets_of(lengths);
  const int tokens = off.back();
  const int batch = static_cast<int>(lengths.size());
  const int w = (a.n_heads + 2 * n_kv) * d;
  const int qw = a.n_heads * d;
  const int kvw = n_kv * d;
  auto qkv = uniform(static_cast<std::size_t>(tokens) * w, -1.5f, 1.5f, 50);
  DevBuf d_qkv(qkv, DType::F32, {tokens, w});
  DevBuf d_off(off, DType::I32, {batch + 1});
  DevBuf d_out(DType::F32, {tokens, qw});
  attention_prefill(dev.s(), d_qkv.view(), d_off.view(), a, d_out.view());
  // Caches filled by kv_append; decode each sequence's last row against them.
  std::vector<std::int32_t> seq;
  std::vector<std::int32_t> pos;
  for (int b = 0; b < batch; ++b)
    for (int p = 0; p < lengths[b]; ++p) {
      seq.push_back(batch - 1 - b);
      pos.push_back(p);
    }
  int cap = 1;
  for (int l : lengths) cap = std::max(cap, l);
  const Shape cs{batch, cap, kvw};
  std::vector<float> zeros(static_cast<std::size_t>(batch) * cap * kvw, 0.0f);
  DevBuf d_k(zeros, DType::F32, cs);
  DevBuf d_v(zeros, DType::F32, cs);
  DevBuf d_seq(seq, DType::I32, {tokens});
  DevBuf d_pos(pos, DType::I32, {tokens});
  kv_append(dev.s(), d_qkv.view(), d_seq.view(), d_pos.view(), d_k.view(), d_v.view(), a);
  std::vector<float> last;
  std::vector<std::int32_t> slots;
  std::vector<std::int32_t> len;
  for (int b = 0; b < batch; ++b) {
    const auto row = qkv.begin() + static_cast<std::ptrdiff_t>(off[b + 1] - 1) * w;
    last.insert(last.end(), row, row + w);
    slots.push_back(batch - 1 - b);
    len.push_back(lengths[b]);  // rows attend to different lengths
  }
  DevBuf d_last(last, DType::F32, {batch, w});
  DevBuf d_slots(slots, DType::I32, {batch});
  DevBuf d_len(len, DType::I32, {batch});
  DevBuf d_dec(DType::F32, {batch, qw});
  attention_decode(dev.s(), d_last.view(), d_k.view(), d_v.view(), d_slots.view(), d_len.view(), a, d_dec.view());
  dev.s().synchronize();

  std::vector<float> want(static_cast<std::size_t>(tokens) * qw);
  ref::attention_prefill(host(qkv, DType::F32, {tokens, w}), host(off, DType::I32, {batch + 1}), a,
                         host(want, DType::F32, {tokens, qw}));
  EXPECT_TRUE(close(d_out.read<float>(), want, kAttention)) << "prefill";
  auto kc = zeros;
  auto vc = zeros;
  ref::kv_append(host(qkv, DType::F32, {tokens, w}), host(seq, DType::I32, {tokens}), host(pos, DType::I32, {tokens}),
                 host(kc, DType::F32, cs), host(vc, DType::F32, cs), a);
  EXPECT_TRUE(close(d_k.read<float>(), kc, kExact)) << "k_cache";
  EXPECT_TRUE(close(d_v.read<float>(), vc, kExact)) << "v_cache";
  std::vector<float> want_dec(static_cast<std::size_t>(batch) * qw);
  ref::attention_decode(host(last, DType::F32, {batch, w}), host(kc, DType::F32, cs), host(vc, DType::F32, cs),
                        host(slots, DType::I32, {batch}), host(len, DType::I32, {batch}), a,
                        host(want_dec, DType::F32, {batch, qw}));
  EXPECT_TRUE(close(d_dec.read<float>(), want_dec, kAttention)) << "decode";
  d_out.expect_guards("prefill out");
  d_dec.expect_guards("decode out");
  d_k.expect_guards("k_cache");
  d_v.expect_guards("v_cache");
}

OPS_TEST(AttentionGqa) {
  FERRY_OPEN_DEVICE_OR_SKIP(dev);
  const std::vector<int> nested{1, 7, 13, 3};
  for (int d : {16, 24, 32, 64, 80, 100, 128})
    for (int ratio : {1, 3, 5}) run_gqa(*dev, nested, 2, ratio, d, 1.0f / std::sqrt(static_cast<float>(d)));
  // Longer sequences: prefill over several key tiles (32 keys) with tiles straddling sequences, and
  // decode over more keys than one pass of the decode block's warps (256).
  for (int ratio : {1, 3, 5}) run_gqa(*dev, {40, 1, 300, 33}, 2, ratio, 128, 1.0f / std::sqrt(128.0f));
  run_gqa(*dev, {70, 5, 261}, 1, 5, 16, 0.25f);
  run_gqa(*dev, {7}, 1, 5, 64, 0.015625f);  // Granite-style custom scale
  run_gqa(*dev, {1}, 3, 3, 32, 0.2f);
  // More query heads per KV head than the CPU kernel's row block (8), and a head wider than it
  // takes (256: the scalar path).
  run_gqa(*dev, {20, 3}, 1, 9, 32, 0.17f);
  run_gqa(*dev, {9, 2}, 2, 1, 264, 1.0f / std::sqrt(264.0f));
}

// Bidirectional attention (encoders, AttentionShape::causal false): the flash-style prefill on
// nested sequences against the reference; the masked unfused op on the nested batch and on the same
// sequences padded to the longest with key_len masking the pads, its real rows equal to the nested
// result. Causal output must differ (the flag is not ignored).
void run_bidirectional(Device& dev, const std::vector<int>& lengths, int heads, int d) {
  SCOPED_TRACE("bidirectional heads=" + std::to_string(heads) + " d=" + std::to_string(d));
  AttentionShape a{heads, heads, d, 1.0f / std::sqrt(static_cast<float>(d))};
  a.causal = false;
  const int hidden = heads * d;
  auto off = offsets_of(lengths);
  const int tokens = off.back();
  const int batch = static_cast<int>(lengths.size());
  const int max_len = *std::max_element(lengths.begin(), lengths.end());
  auto qkv = uniform(static_cast<std::size_t>(tokens) * 3 * hidden, -1.5f, 1.5f, 61);
  DevBuf d_qkv(qkv, DType::F32, {tokens, 3 * hidden});
  DevBuf d_off(off, DType::I32, {batch + 1});
  DevBuf d_flash(DType::F32, {tokens, hidden});
  DevBuf d_causal(DType::F32, {tokens, hidden});
  DevBuf d_unfused(DType::F32, {tokens, hidden});
  DevBuf d_scores(DType::F32, {heads, max_len + 3, max_len + 3});
  attention_prefill(dev.s(), d_qkv.view(), d_off.view(), a, d_flash.view());
  AttentionShape causal = a;
  causal.causal = true;
  attention_prefill(dev.s(), d_qkv.view(), d_off.view(), causal, d_causal.view());
  attention_prefill_unfused(dev.s(), d_qkv.view(), d_off.view(), TensorView{}, a, d_scores.view(), d_unfused.view());
  // Padded: every sequence at max_len, pad rows of garbage (they must not leak into real rows).
  std::vector<float> padded = uniform(static_cast<std::size_t>(batch) * max_len * 3 * hidden, -50, 50, 62);
  std::vector<std::int32_t> pad_off;
  for (int b = 0; b <= batch; ++b) pad_off.push_back(b * max_len);
  for (int b = 0; b < batch; ++b)
    std::copy_n(qkv.begin() + static_cast<std::ptrdiff_t>(off[b]) * 3 * hidden,
                static_cast<std::ptrdiff_t>(lengths[b]) * 3 * hidden,
                padded.begin() + static_cast<std::ptrdiff_t>(b) * max_len * 3 * hidden);
  std::vector<std::int32_t> key_len(lengths.begin(), lengths.end());
  DevBuf d_padded(padded, DType::F32, {batch * max_len, 3 * hidden});
  DevBuf d_pad_off(pad_off, DType::I32, {batch + 1});
  DevBuf d_key_len(key_len, DType::I32, {batch});
  DevBuf d_pad_out(DType::F32, {batch * max_len, hidden});
  attention_prefill_unfused(dev.s(), d_padded.view(), d_pad_off.view(), d_key_len.view(), a, d_scores.view(),
                            d_pad_out.view());
  dev.s().synchronize();

  std::vector<float> want(static_cast<std::size_t>(tokens) * hidden);
  ref::attention_prefill(host(qkv, DType::F32, {tokens, 3 * hidden}), host(off, DType::I32, {batch + 1}), a,
                         host(want, DType::F32, {tokens, hidden}));
  EXPECT_TRUE(close(d_flash.read<float>(), want, kAttention)) << "flash, bidirectional";
  EXPECT_TRUE(close(d_unfused.read<float>(), want, kAttention)) << "unfused, nested";
  if (max_len > 1) {
    EXPECT_FALSE(close(d_causal.read<float>(), want, kAttention)) << "causal must differ from bidirectional";
  }
  std::vector<float> want_pad(static_cast<std::size_t>(batch) * max_len * hidden);
  std::vector<float> scratch(static_cast<std::size_t>(heads) * (max_len + 3) * (max_len + 3));
  ref::attention_prefill_unfused(host(padded, DType::F32, {batch * max_len, 3 * hidden}),
                                 host(pad_off, DType::I32, {batch + 1}), host(key_len, DType::I32, {batch}), a,
                                 host(scratch, DType::F32, {heads, max_len + 3, max_len + 3}),
                                 host(want_pad, DType::F32, {batch * max_len, hidden}));
  const auto got_pad = d_pad_out.read<float>();
  EXPECT_TRUE(close(got_pad, want_pad, kAttention)) << "unfused, padded with key_len";
  std::vector<float> real;  // the padded result's real rows, in nested order
  for (int b = 0; b < batch; ++b)
    real.insert(real.end(), got_pad.begin() + static_cast<std::ptrdiff_t>(b) * max_len * hidden,
                got_pad.begin() + (static_cast<std::ptrdiff_t>(b) * max_len + lengths[b]) * hidden);
  EXPECT_TRUE(close(real, want, kAttention)) << "padded real rows vs nested";
  d_flash.expect_guards("flash out");
  d_pad_out.expect_guards("padded out");
  d_scores.expect_guards("scores");
}

OPS_TEST(AttentionBidirectional) {
  FERRY_OPEN_DEVICE_OR_SKIP(dev);
  run_bidirectional(*dev, {5, 1, 9}, 3, 15);       // BERT-golden-like: odd head count and width
  run_bidirectional(*dev, {40, 3, 70}, 2, 32);     // several key tiles, tiles straddling sequences
  run_bidirectional(*dev, {1}, 1, 64);             // one token: out = v
  run_bidirectional(*dev, {33, 17, 2, 64}, 4, 64); // bert-base head width
}

// The GPT-2 signatures equal the GQA overloads with n_kv = n_heads, scale 1/sqrt(D), bit for bit.
OPS_TEST(AttentionOldSignaturesMatchGqa) {
  FERRY_OPEN_DEVICE_OR_SKIP(dev);
  auto off = offsets_of(kLengths);
  const int batch = static_cast<int>(kLengths.size());
  const int d = kHidden / kHeads;
  const AttentionShape a{kHeads, kHeads, d, 1.0f / std::sqrt(static_cast<float>(d))};
  auto qkv = uniform(kTokens * 3 * kHidden, -2, 2, 51);
  DevBuf d_qkv(qkv, DType::F32, {kTokens, 3 * kHidden});
  DevBuf d_off(off, DType::I32, {batch + 1});
  DevBuf d_old(DType::F32, {kTokens, kHidden});
  DevBuf d_new(DType::F32, {kTokens, kHidden});
  attention_prefill(dev->s(), d_qkv.view(), d_off.view(), kHeads, d_old.view());
  attention_prefill(dev->s(), d_qkv.view(), d_off.view(), a, d_new.view());
  std::vector<std::int32_t> seq(kTokens);
  std::vector<std::int32_t> pos(kTokens);
  for (int t = 0; t < kTokens; ++t) {
    seq[t] = t % kSlotCount;
    pos[t] = t / kSlotCount;
  }
  const Shape cs{kSlotCount, kCap, kHidden};
  std::vector<float> zeros(kSlotCount * kCap * kHidden, 0.0f);
  DevBuf d_seq(seq, DType::I32, {kTokens});
  DevBuf d_pos(pos, DType::I32, {kTokens});
  DevBuf k_old(zeros, DType::F32, cs), v_old(zeros, DType::F32, cs), k_new(zeros, DType::F32, cs),
      v_new(zeros, DType::F32, cs);
  kv_append(dev->s(), d_qkv.view(), d_seq.view(), d_pos.view(), k_old.view(), v_old.view());
  kv_append(dev->s(), d_qkv.view(), d_seq.view(), d_pos.view(), k_new.view(), v_new.view(), a);
  std::vector<std::int32_t> len{6, 1, 5, 3};
  std::vector<std::int32_t> slots{0, 1, 2, 4};
  DevBuf d_len(len, DType::I32, {batch});
  DevBuf d_slots(slots, DType::I32, {batch});
  DevBuf q4(std::vector<float>(qkv.begin(), qkv.begin() + batch * 3 * kHidden), DType::F32, {batch, 3 * kHidden});
  DevBuf dec_old(DType::F32, {batch, kHidden});
  DevBuf dec_new(DType::F32, {batch, kHidden});
  attention_decode(dev->s(), q4.view(), k_old.view(), v_old.view(), d_slots.view(), d_len.view(), kHeads,
                   dec_old.view());
  attention_decode(dev->s(), q4.view(), k_new.view(), v_new.view(), d_slots.view(), d_len.view(), a, dec_new.view());
  dev->s().synchronize();
  EXPECT_TRUE(close(d_new.read<float>(), d_old.read<float>(), {0, 0})) << "prefill";
  EXPECT_TRUE(close(k_new.read<float>(), k_old.read<float>(), {0, 0})) << "k_cache";
  EXPECT_TRUE(close(v_new.read<float>(), v_old.read<float>(), {0, 0})) << "v_cache";
  EXPECT_TRUE(close(dec_new.read<float>(), dec_old.read<float>(), {0, 0})) << "decode";
}

OPS_TEST(AttentionGqaBadRatioIsBadInput) {
  FERRY_OPEN_DEVICE_OR_SKIP(dev);
  const AttentionShape a{4, 3, 8, 0.25f};
  DevBuf d_qkv(DType::F32, {1, (4 + 6) * 8});
  std::vector<std::int32_t> off{0, 1};
  DevBuf d_off(off, DType::I32, {2});
  DevBuf d_out(DType::F32, {1, 32});
  EXPECT_THROW(attention_prefill(dev->s(), d_qkv.view(), d_off.view(), a, d_out.view()), BadInput);
}

// ---- sampling ----------------------------------------------------------------------------------
constexpr int kRows = 8;

// Logits [kRows, kVocab] with ties: row 0 has its maximum at 17 and 60, row 1 at 0, row 2 at V-1,
// row 3 is constant.
std::vector<float> sampling_logits() {
  auto z = uniform(kRows * kVocab, -3, 3, 21);
  auto row = [&](int b) { return z.begin() + static_cast<std::ptrdiff_t>(b) * kVocab; };
  row(0)[17] = 5.0f;
  row(0)[60] = 5.0f;
  row(1)[0] = 4.0f;
  row(2)[kVocab - 1] = 4.0f;
  std::fill(row(3), row(3) + kVocab, 0.25f);
  return z;
}

std::vector<std::int32_t> run_sample(Device& dev, std::vector<float> z, const SamplingParams& p,
                                     std::vector<std::int32_t> seq, std::vector<std::int32_t> step) {
  const int rows = static_cast<int>(seq.size());
  const int vocab = static_cast<int>(z.size()) / rows;
  DevBuf d_z(z, DType::F32, {rows, vocab});
  DevBuf d_seq(seq, DType::I32, {rows});
  DevBuf d_step(step, DType::I32, {rows});
  DevBuf d_ids(DType::I32, {rows});
  sample(dev.s(), d_z.view(), p, d_seq.view(), d_step.view(), d_ids.view());
  dev.s().synchronize();
  d_ids.expect_guards("out_ids");
  return d_ids.read<std::int32_t>();
}

std::vector<std::int32_t> ref_sample(std::vector<float> z, const SamplingParams& p, std::vector<std::int32_t> seq,
                                     std::vector<std::int32_t> step) {
  const auto rows = static_cast<std::int64_t>(seq.size());
  const auto vocab = static_cast<std::int64_t>(z.size()) / rows;
  std::vector<std::int32_t> ids(seq.size(), -1);
  ref::sample(host(z, DType::F32, {rows, vocab}), p, host(seq, DType::I32, {rows}), host(step, DType::I32, {rows}),
              host(ids, DType::I32, {rows}));
  return ids;
}

const std::vector<std::int32_t> kSeq{0, 1, 2, 3, 7, 7, 42, 5};
const std::vector<std::int32_t> kStep{0, 3, 9, 1, 0, 1, 100, 2};

OPS_TEST(SampleGreedy) {
  FERRY_OPEN_DEVICE_OR_SKIP(dev);
  const auto z = sampling_logits();
  SamplingParams p;  // greedy
  const auto got = run_sample(*dev, z, p, kSeq, kStep);
  EXPECT_EQ(got, ref_sample(z, p, kSeq, kStep));
  EXPECT_EQ(got[0], 17) << "ties go to the lowest index";
  EXPECT_EQ(got[1], 0);
  EXPECT_EQ(got[2], kVocab - 1);
  EXPECT_EQ(got[3], 0) << "a constant row picks index 0";
}

OPS_TEST(SampleSeededMatchesReference) {
  FERRY_OPEN_DEVICE_OR_SKIP(dev);
  const auto z = sampling_logits();
  struct Case {
    float temperature;
    int top_k;
    float top_p;
  };
  const Case cases[] = {{1.0f, 0, 1.0f}, {0.7f, 0, 1.0f}, {1.5f, 5, 1.0f}, {1.0f, 0, 0.9f},
                        {1.3f, 10, 0.5f}, {2.0f, 200, 0.95f}, {0.5f, kVocab, 1.0f}};
  for (const Case& c : cases) {
    for (std::uint64_t seed : {0ull, 1ull, 12345ull, 0xDEADBEEFCAFEull}) {
      SamplingParams p;
      p.greedy = false;
      p.temperature = c.temperature;
      p.top_k = c.top_k;
      p.top_p = c.top_p;
      p.seed = seed;
      SCOPED_TRACE("T=" + std::to_string(c.temperature) + " top_k=" + std::to_string(c.top_k) +
                   " top_p=" + std::to_string(c.top_p) + " seed=" + std::to_string(seed));
      const auto got = run_sample(*dev, z, p, kSeq, kStep);
      EXPECT_EQ(got, ref_sample(z, p, kSeq, kStep));
      for (std::int32_t id : got) EXPECT_TRUE(id >= 0 && id < kVocab) << id;
    }
  }
}

OPS_TEST(SampleTopK1AndTinyTopPAreGreedy) {
  FERRY_OPEN_DEVICE_OR_SKIP(dev);
  const auto z = sampling_logits();
  SamplingParams greedy;
  const auto want = run_sample(*dev, z, greedy, kSeq, kStep);
  for (std::uint64_t seed : {3ull, 99ull}) {
    SamplingParams k1;
    k1.greedy = false;
    k1.temperature = 1.7f;
    k1.top_k = 1;
    k1.seed = seed;
    EXPECT_EQ(run_sample(*dev, z, k1, kSeq, kStep), want) << "top_k = 1, seed " << seed;
    SamplingParams tiny_p;
    tiny_p.greedy = false;
    tiny_p.temperature = 1.7f;
    tiny_p.top_p = 1e-6f;
    tiny_p.seed = seed;
    EXPECT_EQ(run_sample(*dev, z, tiny_p, kSeq, kStep), want) << "top_p = 1e-6, seed " << seed;
  }
}

// The draw for a row depends only on (seed, seq, step): sampling a row alone gives what it gave in
// the batch.
OPS_TEST(SampleIndependentOfBatch) {
  FERRY_OPEN_DEVICE_OR_SKIP(dev);
  const auto z = sampling_logits();
  SamplingParams p;
  p.greedy = false;
  p.temperature = 1.2f;
  p.top_p = 0.97f;
  p.seed = 2024;
  const auto batch = run_sample(*dev, z, p, kSeq, kStep);
  for (int b = kRows - 1; b >= 0; --b) {
    std::vector<float> row(z.begin() + static_cast<std::ptrdiff_t>(b) * kVocab,
                           z.begin() + static_cast<std::ptrdiff_t>(b + 1) * kVocab);
    EXPECT_EQ(run_sample(*dev, row, p, {kSeq[b]}, {kStep[b]}), std::vector<std::int32_t>{batch[b]}) << "row " << b;
  }
}

// Over many (seq) counters with one fixed seed, the empirical distribution with temperature follows
// softmax(z / T); with top_k it follows the renormalised softmax of the top k and never leaves them.
// 4000 draws: the standard deviation of a frequency is at most 0.008; the bound 0.03 is ~4 sigma,
// and the seeds are fixed, so the test is deterministic.
OPS_TEST(SampleDistributionFollowsSoftmax) {
  FERRY_OPEN_DEVICE_OR_SKIP(dev);
  const std::vector<float> logits{1.0f, 0.5f, 0.0f, -0.5f, 2.0f, 0.2f};
  const int vocab = static_cast<int>(logits.size());
  constexpr int kDraws = 4000;
  std::vector<float> z;
  std::vector<std::int32_t> seq(kDraws);
  std::vector<std::int32_t> step(kDraws, 5);
  for (int i = 0; i < kDraws; ++i) {
    z.insert(z.end(), logits.begin(), logits.end());
    seq[i] = i;
  }
  for (int top_k : {0, 3}) {
    SamplingParams p;
    p.greedy = false;
    p.temperature = 0.7f;
    p.top_k = top_k;
    p.seed = 77;
    const auto ids = run_sample(*dev, z, p, seq, step);
    std::vector<double> want(vocab, 0.0);
    std::vector<int> order(vocab);
    for (int i = 0; i < vocab; ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](int a, int b) { return logits[a] > logits[b]; });
    const int kept = top_k > 0 ? top_k : vocab;
    double total = 0.0;
    for (int r = 0; r < kept; ++r) total += want[order[r]] = std::exp(logits[order[r]] / 0.7);
    for (double& w : want) w /= total;
    std::vector<int> count(vocab, 0);
    for (std::int32_t id : ids) {
      ASSERT_TRUE(id >= 0 && id < vocab) << id;
      ++count[id];
    }
    for (int i = 0; i < vocab; ++i) {
      const double freq = static_cast<double>(count[i]) / kDraws;
      if (want[i] == 0.0)
        EXPECT_EQ(count[i], 0) << "token " << i << " is outside top_k " << top_k;
      else
        EXPECT_NEAR(freq, want[i], 0.03) << "token " << i << ", top_k " << top_k;
    }
  }
}

#if !FERRY_OPS_TEST_CUDA
// The vectorised exp under SiLU and GELU (ops/cpu_isa/vec_math.h), tighter than the op bounds
// above: against double precision, within 1e-6 relative (a few ulp) over its whole range (a 2e-4
// error in one polynomial coefficient fails it; the op bounds let that pass).
TEST_P(Cpu, VectorExpWithinUlpsOfDouble) {
  const cpu::Kernels& kern = cpu::cpu_kernels();
  std::vector<float> g, one;
  for (float x = -86.0f; x <= 86.0f; x += 0.0371f) g.push_back(x);
  one.assign(g.size(), 1.0f);
  std::vector<float> y(g.size());
  kern.silu_mul(g.data(), one.data(), static_cast<std::int64_t>(g.size()), y.data());
  for (std::size_t i = 0; i < g.size(); ++i) {
    const double want = g[i] / (1.0 + std::exp(-static_cast<double>(g[i])));
    ASSERT_NEAR(y[i], want, 1e-6 * std::abs(want) + 1e-37) << "silu(" << g[i] << ")";
  }
  std::vector<float> x;
  for (float v = -9.0f; v <= 9.0f; v += 0.0173f) x.push_back(v);
  y = x;
  kern.gelu_tanh(y.data(), static_cast<std::int64_t>(y.size()));
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double u = 0.7978845608028654 * (x[i] + 0.044715 * x[i] * x[i] * x[i]);
    const double want = x[i] / (1.0 + std::exp(-2.0 * u));  // = 0.5 x (1 + tanh u), without its cancellation
    // u itself is rounded to f32 in the kernel, an error exp(2u) multiplies by 2|u|.
    const double rel = 1e-6 + 2.4e-7 * 2.0 * std::abs(u);
    ASSERT_NEAR(y[i], want, rel * std::abs(want) + 1e-37) << "gelu_tanh(" << x[i] << ")";
  }
  // The softmax row of the unfused attention: exp(x - shift) and its sum, in place.
  std::vector<float> row;
  for (float v = -40.0f; v <= 3.0f; v += 0.0419f) row.push_back(v);
  std::vector<float> e = row;
  const float sum = kern.exp_shifted(e.data(), 3.0f, static_cast<std::int64_t>(e.size()), e.data());
  double want_sum = 0;
  for (std::size_t i = 0; i < row.size(); ++i) {
    const double want = std::exp(static_cast<double>(row[i]) - 3.0);
    want_sum += want;
    ASSERT_NEAR(e[i], want, 2e-6 * want + 1e-37) << "exp(" << row[i] << " - 3)";
  }
  EXPECT_NEAR(sum, want_sum, 1e-5 * want_sum);
}
#endif

}  // namespace
}  // namespace ferry::ops::testing
