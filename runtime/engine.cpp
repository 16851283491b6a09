#include "runtime/engine.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>

#include "base/error.h"
#include "base/progress.h"
#include "base/sysinfo.h"
#include "base/um_counters.h"
#include "memory/buffer.h"
#include "models/gpt2.h"
#include "models/weights.h"
#include "runtime/run_plan.h"

namespace ferry {

Layout parse_layout(const std::string& s, const std::string& what) {
  if (s == "nested") return Layout::Nested;
  if (s == "padded") return Layout::Padded;
  throw BadInput(what + ": unknown layout '" + s + "' (expected nested or padded)");
}

const char* layout_name(Layout l) { return l == Layout::Nested ? "nested" : "padded"; }

DType weight_dtype_for(const ModelSpec& spec, DeviceKind device) {
  return device == DeviceKind::CPU ? DType::F32 : spec.dtype;
}

std::vector<std::uint64_t> model_pack_bytes(const ModelSpec& spec, DeviceKind device) {
  std::vector<std::uint64_t> bytes;
  for (const PackLayout& l : gpt2::pack_layouts(spec, weight_dtype_for(spec, device))) bytes.push_back(l.bytes());
  return bytes;
}

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// A device buffer of i32 indices plus the host vector staged into it.
struct IndexBuffer {
  Buffer dev;
  std::vector<std::int32_t> host;
  TensorView view(DeviceKind d) const {
    return TensorView(dev.data(), DType::I32, Shape{static_cast<std::int64_t>(host.size())}, d);
  }
};

IndexBuffer make_index(DeviceKind d, std::size_t capacity) {
  IndexBuffer b;
  b.dev = Buffer::allocate(d, BufferKind::Device, std::max<std::size_t>(capacity, 1) * sizeof(std::int32_t), 256);
  return b;
}

void upload(Backend& be, IndexBuffer& b, Stream& s) {
  if (!b.host.empty()) be.memcpy_async(b.dev.data(), b.host.data(), b.host.size() * sizeof(std::int32_t), s);
}

}  // namespace

std::uint64_t batch_device_bytes(const ModelSpec& spec, std::int64_t sequences, std::int64_t rows,
                                 std::int64_t kv_positions, std::int64_t logit_rows, bool prompt_logits) {
  // Mirrors the allocations at the top of Engine::generate().
  const auto B = static_cast<std::uint64_t>(std::max<std::int64_t>(sequences, 1));
  const auto R = static_cast<std::uint64_t>(std::max(rows, sequences));
  const auto H = static_cast<std::uint64_t>(spec.hidden_size), V = static_cast<std::uint64_t>(spec.vocab_size);
  const std::uint64_t f = sizeof(float), i = sizeof(std::int32_t);
  std::uint64_t n = static_cast<std::uint64_t>(kv_positions) * H * 2 * f * static_cast<std::uint64_t>(spec.num_layers);
  n += gpt2::workspace_bytes(spec, static_cast<int>(R));
  n += std::max(static_cast<std::uint64_t>(std::max<std::int64_t>(logit_rows, 0)), B) * V * f;
  n += B * H * f;
  if (prompt_logits) n += B * V * f;
  n += 3 * std::max<std::uint64_t>(R, 1) * i + (B + 1) * i + 4 * B * i;  // ids, pos, seq; offsets; len, sseq, sstep, out
  return n;
}

std::uint64_t batch_reserve_bytes(const ModelSpec& spec, int max_batch_tokens, int max_sequences) {
  const std::int64_t T = std::max(max_batch_tokens, max_sequences);
  return batch_device_bytes(spec, max_sequences, T, T, max_sequences, false);
}

Engine::Engine(const ModelSpec& spec, const EngineConfig& cfg) : spec_(spec), cfg_(cfg) {
  backend_ = make_backend(cfg_.device, cfg_.device_index, cfg_.threads);
  layouts_ = gpt2::pack_layouts(spec_, weight_dtype_for(spec_, cfg_.device));
  RunPlan rp = plan_run(spec_, cfg_, machine_memory(*backend_));
  plan_ = std::move(rp.plan);
  reserved_bytes_ = rp.reserved_bytes;
  if (cfg_.probe && cfg_.probe->device != device_name(cfg_.device))
    throw BadInput("--probe: the probe was measured on " + cfg_.probe->device + ", this run uses " +
                   device_name(cfg_.device));
  // CUDA managed memory moves pages behind ferry's back: the bound's streamed bytes come from
  // CUPTI's Unified Memory counters, which must be enabled before the first managed allocation.
  if (cfg_.probe && cfg_.device == DeviceKind::CUDA && (plan_.policy == Policy::UM || plan_.policy == Policy::UMPrefetch)) {
    const std::string why = enable_um_counters(cfg_.device_index);
    um_counted_ = why.empty();
    if (!um_counted_) plan_.notes.push_back("the bound counts managed bytes as issued, not measured: " + why);
  }

  PlacementConfig pc;
  pc.policy = plan_.policy;
  for (std::uint64_t b : rp.pack_bytes) pc.pack_bytes.push_back(static_cast<std::size_t>(b));
  pc.keep = plan_.keep;
  pc.tier = plan_.tier;
  pc.slots = plan_.slots;
  pc.pack_dir = cfg_.pack_dir;
  pc.allow_oversubscribe = cfg_.allow_oversubscribe;
  pc.gpu_mem_limit = cfg_.gpu_mem_limit;
  placement_ = make_placement(*backend_, pc);
  residency_ = std::make_unique<Residency>(plan_.budget, rp.pack_bytes);
  if (cfg_.trace) timeline_ = std::make_unique<Timeline>(*backend_);

  load();
  pipeline_ = std::make_unique<LayerPipeline>(*backend_, plan_, *placement_, *residency_, timeline_.get());
}

std::uint64_t Engine::moved_bytes(bool& measured) const {
  measured = true;
  if (um_counted_) return um_counts().bytes_h2d;
  if (cfg_.device == DeviceKind::CUDA && (plan_.policy == Policy::UM || plan_.policy == Policy::UMPrefetch)) {
    measured = false;
    return residency_->bytes_h2d_total();
  }
  return placement_->moved_bytes();
}

// The pipeline goes first, whatever the order of the members: its destructor drains the streams,
// whose queued work may still use the placement's buffers, the residency and the timeline.
Engine::~Engine() { pipeline_.reset(); }

void Engine::load() {
  const auto t0 = Clock::now();
  std::unique_ptr<WeightSource> source = make_weight_source(spec_);
  weights_desc_ = source->describe();
  const DType wdt = weight_dtype_for(spec_, cfg_.device);
  const std::vector<TensorInfo> tensors = gpt2_tensors(spec_);
  std::uint64_t total = 0;
  for (const PackLayout& l : layouts_) total += l.used_bytes();
  Progress bar("loading " + spec_.name, total, cfg_.progress);
  for (int p = 0; p < static_cast<int>(layouts_.size()); ++p) {
    const PackLayout& layout = layouts_[static_cast<std::size_t>(p)];
    std::byte* base = placement_->fill_begin(p);
    for (const TensorInfo& t : tensors) {
      if (t.pack != p) continue;
      const PackedTensor& pt = layout.find(t.local);
      source->read(t.name, t.shape, wdt, base + pt.offset);
      bar.advance(pt.bytes);
    }
    placement_->fill_end(p);
  }
  bar.finish();
  load_s_ = seconds_since(t0);
}

GenerateResult Engine::generate(const GenerateRequest& req) {
  pipeline_->check_usable();  // refuses, saying why, once a failed call could not be undone
  const int B = static_cast<int>(req.prompts.size());
  if (B == 0) throw BadInput("no prompts: the batch is empty");
  if (req.max_new_tokens < 0) throw BadInput("-n: must be >= 0");
  const int V = spec_.vocab_size, H = spec_.hidden_size, C = spec_.context_length;
  int max_len = 0;
  std::int64_t total = 0;
  for (int b = 0; b < B; ++b) {
    const auto& p = req.prompts[static_cast<std::size_t>(b)];
    if (p.empty()) throw BadInput("prompt " + std::to_string(b + 1) + " is empty");
    for (std::int32_t id : p)
      if (id < 0 || id >= V)
        throw BadInput("prompt " + std::to_string(b + 1) + ": token id " + std::to_string(id) +
                       " is out of range for vocab size " + std::to_string(V));
    if (static_cast<std::int64_t>(p.size()) + req.max_new_tokens > C)
      throw BadInput("prompt " + std::to_string(b + 1) + ": " + std::to_string(p.size()) + " tokens + " +
                     std::to_string(req.max_new_tokens) + " new tokens exceed the context length " + std::to_string(C));
    max_len = std::max(max_len, static_cast<int>(p.size()));
    total += static_cast<std::int64_t>(p.size());
  }

  const DeviceKind dev = cfg_.device;
  Backend& be = *backend_;
  Stream& cs = pipeline_->compute_stream();
  const bool padded = cfg_.layout == Layout::Padded;
  const int prefill_rows = padded ? B * max_len : static_cast<int>(total);
  const int cap = max_len + std::max(req.max_new_tokens, 1);
  const int rows = std::max(prefill_rows, B);
  if (dev == DeviceKind::CUDA) {
    // The device memory of this batch must fit what was reserved for it (and taken out of the budget).
    const std::uint64_t need = batch_device_bytes(spec_, B, prefill_rows, static_cast<std::int64_t>(B) * cap,
                                                  req.prompt_logits ? prefill_rows : B, req.prompt_logits);
    const std::uint64_t have = batch_reserve_bytes(spec_, cfg_.max_batch_tokens, cfg_.max_sequences);
    if (need > have)
      throw ResourceExhausted("this batch needs " + format_bytes(need) + " of device memory for its KV cache, activations and logits (" +
                              std::to_string(B) + " sequences x " + std::to_string(cap) + " positions" +
                              (req.prompt_logits ? ", prompt logits" : "") + "), more than the " + format_bytes(have) +
                              " reserved for --max-batch-tokens " + std::to_string(cfg_.max_batch_tokens) + " --max-seqs " +
                              std::to_string(cfg_.max_sequences) + "; raise them (the reserve counts against --budget)");
  }

  // Device memory for this batch: KV cache, activations, logits, indices.
  const std::size_t kv_layer_elems = static_cast<std::size_t>(B) * static_cast<std::size_t>(cap) * H;
  Buffer kv_buf = Buffer::allocate(dev, BufferKind::Device,
                                   kv_layer_elems * 2 * sizeof(float) * static_cast<std::size_t>(spec_.num_layers));
  std::vector<gpt2::KVLayer> kv(static_cast<std::size_t>(spec_.num_layers));
  for (int l = 0; l < spec_.num_layers; ++l) {
    float* base = kv_buf.as<float>() + kv_layer_elems * 2 * static_cast<std::size_t>(l);
    const Shape shape{B, cap, H};
    kv[static_cast<std::size_t>(l)] = {TensorView(static_cast<void*>(base), DType::F32, shape, dev),
                                       TensorView(static_cast<void*>(base + kv_layer_elems), DType::F32, shape, dev)};
  }
  Buffer ws_buf = Buffer::allocate(dev, BufferKind::Device, gpt2::workspace_bytes(spec_, rows), 256);
  const int logit_rows = req.prompt_logits ? prefill_rows : B;
  Buffer logits_buf = Buffer::allocate(
      dev, BufferKind::Device, static_cast<std::size_t>(std::max(logit_rows, B)) * static_cast<std::size_t>(V) * sizeof(float), 256);
  Buffer last_buf = Buffer::allocate(dev, BufferKind::Device, static_cast<std::size_t>(B) * H * sizeof(float), 256);
  Buffer sample_logits_buf;  // [B, V] rows picked from the full prompt logits
  if (req.prompt_logits)
    sample_logits_buf = Buffer::allocate(dev, BufferKind::Device, static_cast<std::size_t>(B) * V * sizeof(float), 256);

  IndexBuffer ids = make_index(dev, static_cast<std::size_t>(rows)), pos = make_index(dev, static_cast<std::size_t>(rows)),
              seq = make_index(dev, static_cast<std::size_t>(rows)), offsets = make_index(dev, static_cast<std::size_t>(B) + 1),
              len = make_index(dev, static_cast<std::size_t>(B)), sseq = make_index(dev, static_cast<std::size_t>(B)),
              sstep = make_index(dev, static_cast<std::size_t>(B)), out_ids = make_index(dev, static_cast<std::size_t>(B));

  GenerateResult result;
  result.sequences.resize(static_cast<std::size_t>(B));
  for (int b = 0; b < B; ++b) result.sequences[static_cast<std::size_t>(b)].prompt_ids = req.prompts[static_cast<std::size_t>(b)];
  residency_->reset_counters();

  const PackLayout& layout0 = layouts_[0];
  std::vector<std::int32_t> sampled(static_cast<std::size_t>(B));
  sseq.host.resize(static_cast<std::size_t>(B));
  for (int b = 0; b < B; ++b) sseq.host[static_cast<std::size_t>(b)] = b;
  // From here on the streams use the buffers above (and result, sampled). If anything throws, this
  // guard goes first: it drains every stream before they are freed and resets the pipeline and
  // the residency, so the next call starts as on a fresh engine.
  const LayerPipeline::FailureGuard on_failure(*pipeline_);

  // Copies the staged host indices to the device and describes the pass: prefill rows are
  // delimited by offsets, decode rows by the cache lengths they attend to.
  auto stage_batch = [&](bool decode, int batch_rows) {
    IndexBuffer& bounds = decode ? len : offsets;
    for (IndexBuffer* b : {&ids, &pos, &seq, &bounds}) upload(be, *b, cs);
    gpt2::Batch batch;
    batch.ids = ids.view(dev);
    batch.pos = pos.view(dev);
    batch.seq = seq.view(dev);
    (decode ? batch.len : batch.offsets) = bounds.view(dev);
    batch.decode = decode;
    batch.rows = batch_rows;
    return batch;
  };
  // Runs embed -> blocks -> final norm over `batch`; leaves ln_f(x) in ws.normed.
  auto forward = [&](int step, const gpt2::Batch& batch, gpt2::Workspace& ws, bool another_follows) {
    const std::byte* pack0 = pipeline_->static_pack();
    int tok = timeline_ ? timeline_->begin(TimelineKind::Other, 0, step, cs, "embed") : -1;
    gpt2::embed(cs, spec_, layout0, pack0, batch, ws);
    if (timeline_) timeline_->end(tok, cs);
    pipeline_->run_step(
        step,
        [&](int block, const std::byte* weights, Stream& s) {
          gpt2::block(s, spec_, layouts_[static_cast<std::size_t>(block) + 1], weights, batch, ws,
                      kv[static_cast<std::size_t>(block)]);
          if (cfg_.after_block) {
            const std::function<void(int, int)>* hook = &cfg_.after_block;
            be.host_callback(s, [hook, step, block] { (*hook)(step, block); });
          }
        },
        another_follows);
    tok = timeline_ ? timeline_->begin(TimelineKind::Other, 0, step, cs, "final norm") : -1;
    gpt2::final_norm(cs, spec_, layout0, pack0, ws);
    if (timeline_) timeline_->end(tok, cs);
    return pack0;
  };
  // Samples one token per sequence from logits[B, V]; waits for it and appends it.
  auto sample_and_collect = [&](int step, TensorView lg) {
    sstep.host.assign(static_cast<std::size_t>(B), step);
    upload(be, sseq, cs);
    upload(be, sstep, cs);
    out_ids.host.assign(static_cast<std::size_t>(B), 0);
    ops::sample(cs, lg, req.sampling, sseq.view(dev), sstep.view(dev), out_ids.view(dev));
    be.memcpy_async(sampled.data(), out_ids.dev.data(), sampled.size() * sizeof(std::int32_t), cs);
    pipeline_->synchronize();
    for (int b = 0; b < B; ++b) result.sequences[static_cast<std::size_t>(b)].generated_ids.push_back(sampled[static_cast<std::size_t>(b)]);
  };
  const std::size_t row_bytes_h = static_cast<std::size_t>(H) * sizeof(float);
  const std::size_t row_bytes_v = static_cast<std::size_t>(V) * sizeof(float);

  // The bound of each step (runtime/bound.h, DESIGN.md), when a probe was given: the step's FLOPs,
  // the weight bytes it moved (measured as they moved), the part of them read from storage (the
  // kernel's I/O accounting), and the bytes it must read (every weight, the KV cache it attends to).
  std::vector<StepBound> bounds;
  // The timeline keeps every generate()'s records: this run's start where the last one ended.
  std::size_t records_seen = timeline_ ? timeline_->records().size() : 0;
  std::uint64_t weight_bytes = 0;
  for (const PackLayout& l : layouts_) weight_bytes += l.used_bytes();
  const std::uint64_t kv_row_bytes = static_cast<std::uint64_t>(H) * 2 * sizeof(float) * static_cast<std::uint64_t>(spec_.num_layers);
  struct StepStart {
    std::uint64_t moved = 0, disk = 0;
  };
  bool measured = true;
  auto step_start = [&] { return StepStart{moved_bytes(measured), storage_read_bytes()}; };
  const StepStart run_start = step_start();
  auto record_bound = [&](int step, double measured_s, const StepStart& at, std::int64_t pass_rows, std::int64_t attended,
                          std::int64_t head_rows) {
    if (!cfg_.probe) return;
    StepBound b;
    b.step = step;
    b.measured_s = measured_s;
    b.flops = gpt2::pass_flops(spec_, pass_rows, attended, head_rows);
    b.streamed_bytes = moved_bytes(b.streamed_measured) - at.moved;
    b.disk_bytes = storage_read_bytes() - at.disk;
    b.read_bytes = weight_bytes + kv_row_bytes * static_cast<std::uint64_t>(step == 0 ? pass_rows : attended);
    b.flops_per_s = cfg_.probe->flops_per_s;
    b.link_bps = link_bandwidth(*cfg_.probe);
    b.disk_bps = cfg_.probe->disk_read_bps;
    b.memory_bps = memory_bandwidth(*cfg_.probe);
    b.memory_cache_bytes = cfg_.probe->cache_bytes;
    b.link_cache_bytes = dev == DeviceKind::CPU ? cfg_.probe->cache_bytes : 0;
    if (timeline_) {  // ferry's own compute time, beside the bound
      timeline_->resolve();  // the streams were synchronized: every interval of the step has ended
      b.ferry_compute_s = 0;
      const std::vector<TimelineRecord>& recs = timeline_->records();
      for (; records_seen < recs.size(); ++records_seen) {
        const TimelineRecord& r = recs[records_seen];
        if (r.step == step && r.stream == 0 && (r.kind == TimelineKind::Compute || r.kind == TimelineKind::Other))
          b.ferry_compute_s += std::max(0.0, r.end_us - r.begin_us) * 1e-6;
      }
    }
    finish_bound(b);
    bounds.push_back(std::move(b));
  };
  // (query, key) pairs of a causal prefill of sequences of these lengths.
  auto causal_pairs = [](std::int64_t n) { return n * (n + 1) / 2; };

  // ---- prefill: every prompt token, one nested (or padded) batch ----
  const auto t_prefill = Clock::now();
  const StepStart prefill_start = step_start();
  {
    const int T = prefill_rows;
    ids.host.clear();
    pos.host.clear();
    seq.host.clear();
    offsets.host.assign(1, 0);
    std::vector<int> last_row(static_cast<std::size_t>(B));
    for (int b = 0; b < B; ++b) {
      const auto& p = req.prompts[static_cast<std::size_t>(b)];
      const int n = padded ? max_len : static_cast<int>(p.size());
      for (int t = 0; t < n; ++t) {
        ids.host.push_back(t < static_cast<int>(p.size()) ? p[static_cast<std::size_t>(t)] : 0);  // pad with token 0
        pos.host.push_back(t);
        seq.host.push_back(b);
      }
      last_row[static_cast<std::size_t>(b)] = offsets.host.back() + static_cast<int>(p.size()) - 1;
      offsets.host.push_back(offsets.host.back() + n);
    }
    FERRY_CHECK(static_cast<int>(ids.host.size()) == T, "prefill row count");
    const gpt2::Batch batch = stage_batch(false, T);
    gpt2::Workspace ws = gpt2::carve_workspace(spec_, T, ws_buf.bytes_ptr(), dev);
    const std::byte* pack0 = forward(0, batch, ws, req.max_new_tokens > 1);

    TensorView sample_from;
    const int head_tok = timeline_ ? timeline_->begin(TimelineKind::Other, 0, 0, cs, "lm_head") : -1;
    if (req.prompt_logits) {
      TensorView all(logits_buf.data(), DType::F32, Shape{T, V}, dev);
      gpt2::lm_head(cs, spec_, layout0, pack0, ws.normed, all);
      for (int b = 0; b < B; ++b)
        be.memcpy_async(sample_logits_buf.bytes_ptr() + static_cast<std::size_t>(b) * row_bytes_v,
                        logits_buf.bytes_ptr() + static_cast<std::size_t>(last_row[static_cast<std::size_t>(b)]) * row_bytes_v,
                        row_bytes_v, cs);
      sample_from = TensorView(sample_logits_buf.data(), DType::F32, Shape{B, V}, dev);
      result.prompt_logits.resize(static_cast<std::size_t>(total) * static_cast<std::size_t>(V));
      std::size_t dst_row = 0;
      for (int b = 0; b < B; ++b) {
        const std::size_t n = req.prompts[static_cast<std::size_t>(b)].size();
        be.memcpy_async(result.prompt_logits.data() + dst_row * static_cast<std::size_t>(V),
                        logits_buf.bytes_ptr() + static_cast<std::size_t>(offsets.host[static_cast<std::size_t>(b)]) * row_bytes_v,
                        n * row_bytes_v, cs);
        dst_row += n;
      }
    } else {
      for (int b = 0; b < B; ++b)
        be.memcpy_async(last_buf.bytes_ptr() + static_cast<std::size_t>(b) * row_bytes_h,
                        static_cast<std::byte*>(ws.normed.data) + static_cast<std::size_t>(last_row[static_cast<std::size_t>(b)]) * row_bytes_h,
                        row_bytes_h, cs);
      sample_from = TensorView(logits_buf.data(), DType::F32, Shape{B, V}, dev);
      gpt2::lm_head(cs, spec_, layout0, pack0, TensorView(last_buf.data(), DType::F32, Shape{B, H}, dev), sample_from);
    }
    if (timeline_) timeline_->end(head_tok, cs);
    if (req.max_new_tokens > 0) sample_and_collect(0, sample_from);
    pipeline_->synchronize();
  }
  result.stats.prefill_s = seconds_since(t_prefill);
  {
    std::int64_t pairs = 0;
    for (const auto& p : req.prompts) pairs += causal_pairs(padded ? max_len : static_cast<std::int64_t>(p.size()));
    record_bound(0, result.stats.prefill_s, prefill_start, prefill_rows, pairs, req.prompt_logits ? prefill_rows : B);
  }

  // ---- decode: one row per sequence, attending to its KV cache ----
  const auto t_decode = Clock::now();
  for (int step = 1; step < req.max_new_tokens; ++step) {
    const auto t_step = Clock::now();
    const StepStart at = step_start();
    ids.host.resize(static_cast<std::size_t>(B));
    pos.host.resize(static_cast<std::size_t>(B));
    seq.host.resize(static_cast<std::size_t>(B));
    len.host.resize(static_cast<std::size_t>(B));
    for (int b = 0; b < B; ++b) {
      const SequenceResult& sr = result.sequences[static_cast<std::size_t>(b)];
      const std::size_t bi = static_cast<std::size_t>(b);
      ids.host[bi] = sr.generated_ids.back();
      pos.host[bi] = static_cast<std::int32_t>(sr.prompt_ids.size() + sr.generated_ids.size() - 1);
      seq.host[bi] = b;
      len.host[bi] = pos.host[bi] + 1;
    }
    const gpt2::Batch batch = stage_batch(true, B);
    gpt2::Workspace ws = gpt2::carve_workspace(spec_, B, ws_buf.bytes_ptr(), dev);
    const std::byte* pack0 = forward(step, batch, ws, step + 1 < req.max_new_tokens);
    TensorView lg(logits_buf.data(), DType::F32, Shape{B, V}, dev);
    const int tok = timeline_ ? timeline_->begin(TimelineKind::Other, 0, step, cs, "lm_head") : -1;
    gpt2::lm_head(cs, spec_, layout0, pack0, ws.normed, lg);
    if (timeline_) timeline_->end(tok, cs);
    sample_and_collect(step, lg);
    std::int64_t attended = 0;
    for (std::int32_t l : len.host) attended += l;
    record_bound(step, seconds_since(t_step), at, B, attended, B);
  }
  pipeline_->synchronize();
  if (timeline_) timeline_->resolve();

  RunStats& st = result.stats;
  st.decode_s = seconds_since(t_decode);
  st.load_s = load_s_;
  st.prompt_tokens = total;
  st.generated_tokens = static_cast<std::int64_t>(B) * req.max_new_tokens;
  st.decode_steps = std::max(req.max_new_tokens - 1, 0);
  st.prefill_tokens_per_s = st.prefill_s > 0 ? static_cast<double>(total) / st.prefill_s : 0;
  st.decode_tokens_per_s =
      st.decode_s > 0 && st.decode_steps > 0 ? static_cast<double>(B) * st.decode_steps / st.decode_s : 0;
  st.bytes_h2d = moved_bytes(st.bytes_measured) - run_start.moved;
  st.bytes_from_disk = storage_read_bytes() - run_start.disk;
  st.bytes_d2h = residency_->bytes_d2h();
  st.budget = plan_.budget;
  st.peak_resident = residency_->peak_bytes();
  st.model_bytes = plan_.model_bytes;
  st.fetches = residency_->fetches();
  st.evictions = residency_->evictions();
  st.batch_buffer_bytes = kv_buf.size() + ws_buf.size() + logits_buf.size() + last_buf.size() + sample_logits_buf.size();
  for (const IndexBuffer* b : {&ids, &pos, &seq, &offsets, &len, &sseq, &sstep, &out_ids}) st.batch_buffer_bytes += b->dev.size();
  const DeviceMemoryInfo mem = be.memory_info();
  st.device_used_bytes = mem.total_bytes > mem.free_bytes ? mem.total_bytes - mem.free_bytes : 0;
  if (cfg_.probe) {
    st.bound_link_bps = bound_link_bps();
    st.bound_memory_bps = memory_bandwidth(*cfg_.probe);
    st.bound_disk_bps = cfg_.probe->disk_read_bps;
    st.bound_flops_per_s = cfg_.probe->flops_per_s;
    const BoundSummary sum = summarize_bounds(bounds);
    st.prefill_bound_fraction = sum.prefill_fraction;
    st.decode_bound_fraction = sum.decode_fraction;
    st.max_bound_fraction = sum.max_fraction;
    st.limited_by = sum.limited_by;
    st.steps = std::move(bounds);
  }
  return result;
}

}  // namespace ferry
