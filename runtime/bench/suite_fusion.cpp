// `ferry bench fusion`: each fused op against its unfused equivalent, on the chosen device, with the
// model's shapes and a nested batch of drawn lengths:
//   add_layernorm  add_layernorm(residual, delta)     vs add(residual, delta) + add_layernorm(no delta)
//   linear_gelu    linear with the activation epilogue vs linear + activation (the MLP's c_fc)
//   attention      attention_prefill (flash-style)    vs attention_prefill_unfused (scores materialised)
//   layer          one GPT-2 block of fused ops       vs the same block of unfused ops
// Times come from timing events on the compute stream around `iters` calls (device time on CUDA),
// the median of `repeats` such measurements per call. Each pair's outputs are compared once from the
// same inputs (max_abs_diff), so a fast but wrong variant shows.
#include <cmath>
#include <cstring>
#include <functional>

#include "base/progress.h"
#include "memory/buffer.h"
#include "runtime/bench/measure.h"
#include "runtime/bench/suites.h"

namespace ferry::bench {

using nlohmann::json;

namespace {

// A buffer of the compute device with a view over it.
struct DevTensor {
  Buffer buf;
  TensorView view;  // over buf, the shape given at creation (e.g. [T, H] activations, [H, 4H] weights)
};

class Fixture {
 public:
  Fixture(Backend& be, Stream& s) : be_(be), s_(s) {}

  // A tensor of `dtype` filled with uniform values in [-scale, scale] (or `fill` when scale is 0).
  DevTensor tensor(DType dtype, Shape shape, float scale, float fill = 0.0f) {
    const auto n = static_cast<std::size_t>(shape.numel());
    std::vector<float> v(n, fill);
    if (scale != 0.0f)
      for (float& x : v) x = scale * (2.0f * uniform() - 1.0f);
    DevTensor t;
    t.buf = Buffer::allocate(be_.kind(), BufferKind::Device, std::max<std::size_t>(n * dtype_size(dtype), 1), 256);
    t.view = TensorView(t.buf.data(), dtype, shape, be_.kind());
    upload(t.view, v);
    return t;
  }
  DevTensor indices(const std::vector<std::int32_t>& v) {
    DevTensor t;
    t.buf = Buffer::allocate(be_.kind(), BufferKind::Device, std::max<std::size_t>(v.size() * 4, 4), 256);
    t.view = TensorView(t.buf.data(), DType::I32, Shape{static_cast<std::int64_t>(v.size())}, be_.kind());
    be_.memcpy_async(t.buf.data(), v.data(), v.size() * 4, s_);
    s_.synchronize();
    return t;
  }
  void upload(const TensorView& t, const std::vector<float>& v) {
    std::vector<std::byte> bytes(t.bytes());
    if (t.dtype == DType::F32) std::memcpy(bytes.data(), v.data(), bytes.size());
    else convert(v.data(), DType::F32, bytes.data(), t.dtype, v.size());
    be_.memcpy_async(t.data, bytes.data(), bytes.size(), s_);
    s_.synchronize();
  }
  std::vector<float> download(const TensorView& t) {  // f32 tensors only
    std::vector<float> v(static_cast<std::size_t>(t.numel()));
    be_.memcpy_async(v.data(), t.data, v.size() * sizeof(float), s_);
    s_.synchronize();
    return v;
  }

 private:
  float uniform() {  // splitmix64 -> [0, 1)
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return static_cast<float>(static_cast<double>(z >> 11) * 0x1.0p-53);
  }
  Backend& be_;
  Stream& s_;
  std::uint64_t state_ = 12345;
};

// Per-call time in ms: `repeats` measurements of `iters` calls between two timing events.
Spread time_calls(Backend& be, Stream& s, int warmup, int repeats, int iters, const std::function<void()>& body) {
  for (int i = 0; i < warmup; ++i) body();
  s.synchronize();
  std::vector<double> ms;
  for (int r = 0; r < repeats; ++r) {
    auto e0 = be.create_event(true);
    auto e1 = be.create_event(true);
    e0->record(s);
    for (int i = 0; i < iters; ++i) body();
    e1->record(s);
    e1->synchronize();
    s.synchronize();  // rethrows an op's error
    ms.push_back(e1->elapsed_ms_since(*e0) / iters);
  }
  return spread_of(ms);
}

struct Pair {
  std::string op;
  std::string fused_what, unfused_what;
  std::function<void()> reset;          // restores the inputs an op changes in place
  std::function<void()> fused, unfused;
  TensorView output;                    // compared between the two: [T, H] or [T, F]
  std::uint64_t unfused_workspace = 0;  // extra bytes the unfused variant needs
};

}  // namespace

void suite_fusion(const BenchOptions& opt, const ModelSpec& spec, BenchTable& t) {
  t.columns = {"batch_size", "tokens", "max_len", "op", "variant", "what", "ms", "ms_min", "ms_max", "speedup",
               "workspace_bytes", "max_abs_diff", "device", "weight_dtype", "hidden", "ffn", "heads", "iters",
               "repeats", "warmup", "seed"};
  t.key_columns = {"batch_size", "op", "variant"};
  t.compare_metrics = {"ms", "speedup"};
  t.table_columns = {"batch_size", "tokens", "op", "variant", "ms", "speedup", "workspace_bytes", "max_abs_diff"};

  const DeviceKind dev = opt.engine.device;
  std::unique_ptr<Backend> be = make_backend(dev, opt.engine.device_index, opt.engine.threads);
  std::unique_ptr<Stream> sp = be->create_stream(0);
  Stream& s = *sp;
  Fixture fx(*be, s);
  const int H = spec.hidden_size, F = spec.ffn_size, heads = spec.num_heads;
  const float eps = spec.norm_epsilon;
  const ops::Activation act = spec.activation;
  const DType wdt = weight_dtype_for(spec, opt.engine.weights);
  const float wscale = 0.02f * std::sqrt(3.0f);  // uniform with GPT-2's init std 0.02

  Progress bar("bench fusion", opt.batch_sizes.size() * 8, opt.progress, "points");
  std::size_t done = 0;
  for (int batch : opt.batch_sizes) {
    const std::vector<int> lengths = draw_lengths(batch, opt.lengths);
    std::vector<std::int32_t> off{0};
    int max_len = 0;
    for (int l : lengths) {
      off.push_back(off.back() + l);
      max_len = std::max(max_len, l);
    }
    const std::int64_t T = off.back();

    DevTensor offsets = fx.indices(off);
    DevTensor res = fx.tensor(DType::F32, {T, H}, 1.0f), delta = fx.tensor(DType::F32, {T, H}, 1.0f);
    DevTensor delta2 = fx.tensor(DType::F32, {T, H}, 0.0f), normed = fx.tensor(DType::F32, {T, H}, 0.0f);
    DevTensor qkv = fx.tensor(DType::F32, {T, 3 * H}, 1.0f), attn = fx.tensor(DType::F32, {T, H}, 0.0f);
    DevTensor fc = fx.tensor(DType::F32, {T, F}, 0.0f);
    DevTensor scores = fx.tensor(DType::F32, {heads, max_len, max_len}, 0.0f);
    DevTensor ln1g = fx.tensor(wdt, {H}, 0.0f, 1.0f), ln1b = fx.tensor(wdt, {H}, 0.1f);
    DevTensor ln2g = fx.tensor(wdt, {H}, 0.0f, 1.0f), ln2b = fx.tensor(wdt, {H}, 0.1f);
    DevTensor w_attn = fx.tensor(wdt, {H, 3 * H}, wscale), b_attn = fx.tensor(wdt, {3 * H}, 0.1f);
    DevTensor w_proj = fx.tensor(wdt, {H, H}, wscale), b_proj = fx.tensor(wdt, {H}, 0.1f);
    DevTensor w_fc = fx.tensor(wdt, {H, F}, wscale), b_fc = fx.tensor(wdt, {F}, 0.1f);
    DevTensor w_mproj = fx.tensor(wdt, {F, H}, wscale), b_mproj = fx.tensor(wdt, {H}, 0.1f);
    const std::vector<float> res0 = fx.download(res.view), delta0 = fx.download(delta.view);
    const std::vector<float> qkv0 = fx.download(qkv.view);
    auto reset_stream = [&] {
      fx.upload(res.view, res0);
      fx.upload(delta.view, delta0);
    };
    const TensorView none;
    using ops::WeightLayout;
    const std::uint64_t scores_bytes = scores.view.bytes();

    std::vector<Pair> pairs;
    pairs.push_back({"add_layernorm", "add_layernorm(residual, delta)", "add(residual, delta) + add_layernorm(residual)",
                     reset_stream,
                     [&] { ops::add_layernorm(s, res.view, delta.view, ln1g.view, ln1b.view, eps, normed.view); },
                     [&] {
                       ops::add(s, res.view, delta.view);
                       ops::add_layernorm(s, res.view, none, ln1g.view, ln1b.view, eps, normed.view);
                     },
                     normed.view, 0});
    pairs.push_back({"linear_gelu", std::string("linear(x, W, b, ") + ops::activation_name(act) + ")",
                     std::string("linear(x, W, b) + activation(") + ops::activation_name(act) + ")", [] {},
                     [&] { ops::linear(s, res.view, w_fc.view, WeightLayout::KN, b_fc.view, act, fc.view); },
                     [&] {
                       ops::linear(s, res.view, w_fc.view, WeightLayout::KN, b_fc.view, ops::Activation::None, fc.view);
                       ops::activation(s, fc.view, act);
                     },
                     fc.view, 0});
    pairs.push_back({"attention", "attention_prefill (online softmax)",
                     "attention_prefill_unfused (scores materialised)", [&] { fx.upload(qkv.view, qkv0); },
                     [&] { ops::attention_prefill(s, qkv.view, offsets.view, heads, attn.view); },
                     [&] { ops::attention_prefill_unfused(s, qkv.view, offsets.view, heads, scores.view, attn.view); },
                     attn.view, scores_bytes});
    pairs.push_back(
        {"layer", "one block of fused ops", "one block of unfused ops", reset_stream,
         [&] {
           ops::add_layernorm(s, res.view, delta.view, ln1g.view, ln1b.view, eps, normed.view);
           ops::linear(s, normed.view, w_attn.view, WeightLayout::KN, b_attn.view, ops::Activation::None, qkv.view);
           ops::attention_prefill(s, qkv.view, offsets.view, heads, attn.view);
           ops::linear(s, attn.view, w_proj.view, WeightLayout::KN, b_proj.view, ops::Activation::None, delta2.view);
           ops::add_layernorm(s, res.view, delta2.view, ln2g.view, ln2b.view, eps, normed.view);
           ops::linear(s, normed.view, w_fc.view, WeightLayout::KN, b_fc.view, act, fc.view);
           ops::linear(s, fc.view, w_mproj.view, WeightLayout::KN, b_mproj.view, ops::Activation::None, delta.view);
         },
         [&] {
           ops::add(s, res.view, delta.view);
           ops::add_layernorm(s, res.view, none, ln1g.view, ln1b.view, eps, normed.view);
           ops::linear(s, normed.view, w_attn.view, WeightLayout::KN, b_attn.view, ops::Activation::None, qkv.view);
           ops::attention_prefill_unfused(s, qkv.view, offsets.view, heads, scores.view, attn.view);
           ops::linear(s, attn.view, w_proj.view, WeightLayout::KN, b_proj.view, ops::Activation::None, delta2.view);
           ops::add(s, res.view, delta2.view);
           ops::add_layernorm(s, res.view, none, ln2g.view, ln2b.view, eps, normed.view);
           ops::linear(s, normed.view, w_fc.view, WeightLayout::KN, b_fc.view, ops::Activation::None, fc.view);
           ops::activation(s, fc.view, act);
           ops::linear(s, fc.view, w_mproj.view, WeightLayout::KN, b_mproj.view, ops::Activation::None, delta.view);
         },
         delta.view, scores_bytes});

    for (Pair& p : pairs) {
      // The same inputs through both variants, once, for the comparison of their outputs.
      p.reset();
      p.fused();
      s.synchronize();
      const std::vector<float> a = fx.download(p.output);
      p.reset();
      p.unfused();
      s.synchronize();
      const std::vector<float> b = fx.download(p.output);
      const double diff = max_abs_diff(a, b);

      bar.set_label("bench fusion (batch " + std::to_string(batch) + ", " + p.op + ")");
      p.reset();
      const Spread fused = time_calls(*be, s, opt.warmup, opt.repeats, opt.iters, p.fused);
      bar.set(++done);
      p.reset();
      const Spread unfused = time_calls(*be, s, opt.warmup, opt.repeats, opt.iters, p.unfused);
      bar.set(++done);
      for (const bool is_fused : {true, false}) {
        const Spread& m = is_fused ? fused : unfused;
        t.doc["points"].push_back(
            {{"batch_size", batch},
             {"tokens", T},
             {"max_len", max_len},
             {"op", p.op},
             {"variant", is_fused ? "fused" : "unfused"},
             {"what", is_fused ? p.fused_what : p.unfused_what},
             {"ms", m.median},
             {"ms_min", m.min},
             {"ms_max", m.max},
             {"speedup", is_fused ? (fused.median > 0 ? json(unfused.median / fused.median) : json(nullptr)) : json(1.0)},
             {"workspace_bytes", is_fused ? 0 : p.unfused_workspace},
             {"max_abs_diff", diff},
             {"device", device_name(dev)},
             {"weight_dtype", dtype_name(wdt)},
             {"hidden", H},
             {"ffn", F},
             {"heads", heads},
             {"iters", opt.iters},
             {"repeats", opt.repeats},
             {"warmup", opt.warmup},
             {"seed", opt.lengths.seed}});
      }
    }
  }
  bar.finish();
}

}  // namespace ferry::bench
