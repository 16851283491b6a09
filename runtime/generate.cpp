// Engine::generate(): one nested batch through prefill and decode steps, as the steps of Engine::Run.
//   check the request -> allocate the batch's buffers (KV cache sized by the family's KV width) ->
//   prefill every prompt token in one pass -> decode one row per live sequence until each stops ->
//   statistics and the bound of each step (runtime/bound.h).
#include <algorithm>
#include <chrono>
#include <cstring>

#include "base/error.h"
#include "base/sysinfo.h"
#include "base/um_counters.h"
#include "memory/buffer.h"
#include "runtime/clock.h"
#include "runtime/engine.h"
#include "runtime/index_buffer.h"
#include "runtime/prompts.h"

namespace ferry {

namespace {

std::int64_t causal_pairs(std::int64_t n) { return n * (n + 1) / 2; }  // (query, key) pairs of a prefill

}  // namespace

namespace {

// Turns the CPU op profile on for one run (and off after it, whatever happens).
class OpProfiling {
 public:
  explicit OpProfiling(bool on) : on_(on) {
    if (!on_) return;
    ops::reset_cpu_op_profile();
    ops::set_cpu_op_profiling(true);
  }
  ~OpProfiling() {
    if (on_) ops::set_cpu_op_profiling(false);
  }
  OpProfiling(const OpProfiling&) = delete;
  OpProfiling& operator=(const OpProfiling&) = delete;

 private:
  bool on_;
};

// The profile since the last take (the streams are synchronized), and a fresh start.
std::vector<ops::OpTime> take_op_profile() {
  std::vector<ops::OpTime> v = ops::cpu_op_profile();
  ops::reset_cpu_op_profile();
  return v;
}

}  // namespace

class Engine::Run {
 public:
  Run(Engine& e, const GenerateRequest& req)
      : e_(e), req_(req), spec_(e.spec_), dev_(e.cfg_.device), be_(*e.backend_), cs_(e.pipeline_->compute_stream()) {
    check_request();
    allocate();
  }

  GenerateResult execute() {
    // From here on the streams use the buffers of this Run. If anything throws, this guard goes first:
    // it drains every stream before they are freed and resets the pipeline and the residency, so the
    // next call starts as on a fresh engine.
    const LayerPipeline::FailureGuard on_failure(*e_.pipeline_);
    // The CPU op profile (ops/profile.h) rides on the trace: both cost a record per interval.
    const bool profile = e_.cfg_.trace && dev_ == DeviceKind::CPU;
    const OpProfiling profiling(profile);
    run_start_ = step_start();
    prefill();
    if (profile) result_.stats.prefill_ops = take_op_profile();
    const auto t_decode = Clock::now();
    for (int step = 1; step < req_.max_new_tokens && !live_.empty(); ++step) decode_step(step);
    e_.pipeline_->synchronize();
    if (profile) result_.stats.decode_ops = take_op_profile();
    if (e_.timeline_) e_.timeline_->resolve();
    finish_stats(seconds_since(t_decode));
    return std::move(result_);
  }

 private:
  struct StepStart {
    std::uint64_t moved = 0, disk = 0;
  };

  void check_request();
  void allocate();
  Batch stage_batch(bool decode, int rows);
  const std::byte* forward(int step, const Batch& batch, Workspace& ws, bool another_follows);
  void sample_and_collect(int step, TensorView logits);
  StepStart step_start() { return StepStart{e_.moved_bytes(measured_), storage_read_bytes()}; }
  void record_bound(int step, double seconds, const StepStart& at, std::int64_t rows, std::int64_t attended,
                    std::int64_t head_rows);
  void prefill();
  void prefill_head(const Workspace& ws, const std::byte* pack0, const std::vector<int>& last_row);
  void decode_step(int step);
  void finish_stats(double decode_s);

  Engine& e_;
  const GenerateRequest& req_;
  const ModelSpec& spec_;
  const DeviceKind dev_;
  Backend& be_;
  Stream& cs_;
  int B_ = 0, max_len_ = 0, prefill_rows_ = 0, cap_ = 0;
  std::int64_t total_ = 0;
  bool padded_ = false;

  Buffer kv_buf_, ws_buf_, logits_buf_, last_buf_, sample_logits_buf_;
  std::vector<KVLayer> kv_;
  IndexBuffer ids_, pos_, seq_, offsets_, len_, sseq_, sstep_, out_ids_;
  std::vector<std::int32_t> sampled_;
  std::vector<int> live_;  // sequences still generating, in batch order
  std::int64_t decode_tokens_ = 0;

  GenerateResult result_;
  std::vector<StepBound> bounds_;
  std::size_t records_seen_ = 0;
  bool measured_ = true;
  StepStart run_start_;
};

GenerateResult Engine::generate(const GenerateRequest& req) {
  if (!family_->causal())
    throw BadInput("model " + spec_.name + " is an encoder (family " + family_->name() +
                   "): it does not generate; use ferry embed, fill-mask or classify");
  pipeline_->check_usable();  // refuses, saying why, once a failed call could not be undone
  Run run(*this, req);
  return run.execute();
}

void Engine::Run::check_request() {
  B_ = static_cast<int>(req_.prompts.size());
  const TokenBatchShape shape = check_token_batch(req_.prompts, "prompt", spec_.vocab_size);
  if (req_.max_new_tokens < 0) throw BadInput("-n: must be >= 0");
  const int C = spec_.context_length;
  for (int b = 0; b < B_; ++b) {
    const auto& p = req_.prompts[static_cast<std::size_t>(b)];
    if (static_cast<std::int64_t>(p.size()) + req_.max_new_tokens > C)
      throw BadInput("prompt " + std::to_string(b + 1) + ": " + std::to_string(p.size()) + " tokens + " +
                     std::to_string(req_.max_new_tokens) + " new tokens exceed the context length " + std::to_string(C));
  }
  max_len_ = shape.max_len;
  total_ = shape.total;
  padded_ = e_.cfg_.layout == Layout::Padded;
  prefill_rows_ = padded_ ? B_ * max_len_ : static_cast<int>(total_);
  cap_ = max_len_ + std::max(req_.max_new_tokens, 1);
  if (dev_ != DeviceKind::CUDA) return;
  // The device memory of this batch must fit what was reserved for it (and taken out of the budget).
  const std::uint64_t need = batch_device_bytes(spec_, B_, prefill_rows_, static_cast<std::int64_t>(B_) * cap_,
                                                req_.prompt_logits ? prefill_rows_ : B_, req_.prompt_logits);
  const std::uint64_t have = batch_reserve_bytes(spec_, e_.cfg_.max_batch_tokens, e_.cfg_.max_sequences);
  if (need > have)
    throw ResourceExhausted("this batch needs " + format_bytes(need) +
                            " of device memory for its KV cache, activations and logits (" + std::to_string(B_) +
                            " sequences x " + std::to_string(cap_) + " positions" +
                            (req_.prompt_logits ? ", prompt logits" : "") + "), more than the " + format_bytes(have) +
                            " reserved for --max-batch-tokens " + std::to_string(e_.cfg_.max_batch_tokens) +
                            " --max-seqs " + std::to_string(e_.cfg_.max_sequences) +
                            "; raise them (the reserve counts against --budget)");
}

// Device memory for this batch: KV cache, activations, logits, indices (batch_device_bytes mirrors it).
void Engine::Run::allocate() {
  const std::size_t B = static_cast<std::size_t>(B_), V = static_cast<std::size_t>(spec_.vocab_size),
                    H = static_cast<std::size_t>(spec_.hidden_size);
  const std::int64_t KV = e_.family_->kv_width(spec_);
  const std::size_t kv_layer_elems = B * static_cast<std::size_t>(cap_) * static_cast<std::size_t>(KV);
  kv_buf_ = Buffer::allocate(dev_, BufferKind::Device,
                             kv_layer_elems * 2 * sizeof(float) * static_cast<std::size_t>(spec_.num_layers));
  kv_.resize(static_cast<std::size_t>(spec_.num_layers));
  for (int l = 0; l < spec_.num_layers; ++l) {
    float* base = kv_buf_.as<float>() + kv_layer_elems * 2 * static_cast<std::size_t>(l);
    const Shape shape{B_, cap_, KV};
    kv_[static_cast<std::size_t>(l)] = {TensorView(static_cast<void*>(base), DType::F32, shape, dev_),
                                        TensorView(static_cast<void*>(base + kv_layer_elems), DType::F32, shape, dev_)};
  }
  const int rows = std::max(prefill_rows_, B_);
  ws_buf_ = Buffer::allocate(dev_, BufferKind::Device, e_.family_->workspace_bytes(spec_, rows), 256);
  const std::size_t logit_rows = static_cast<std::size_t>(req_.prompt_logits ? std::max(prefill_rows_, B_) : B_);
  logits_buf_ = Buffer::allocate(dev_, BufferKind::Device, logit_rows * V * sizeof(float), 256);
  last_buf_ = Buffer::allocate(dev_, BufferKind::Device, B * H * sizeof(float), 256);
  if (req_.prompt_logits) sample_logits_buf_ = Buffer::allocate(dev_, BufferKind::Device, B * V * sizeof(float), 256);
  // CPU: the pages are faulted in now, as the batch is set up, and not one by one inside the first
  // prefill's kv_append and linears (7% of a 64-token gpt2-large prefill); CUDA memory is mapped.
  if (dev_ == DeviceKind::CPU)
    for (Buffer* b : {&kv_buf_, &ws_buf_, &logits_buf_, &last_buf_, &sample_logits_buf_})
      if (b->size() > 0) std::memset(b->bytes_ptr(), 0, b->size());
  const std::size_t R = static_cast<std::size_t>(rows);
  ids_ = make_index(dev_, R);
  pos_ = make_index(dev_, R);
  seq_ = make_index(dev_, R);
  offsets_ = make_index(dev_, B + 1);
  len_ = make_index(dev_, B);
  sseq_ = make_index(dev_, B);
  sstep_ = make_index(dev_, B);
  out_ids_ = make_index(dev_, B);

  result_.sequences.resize(B);
  for (std::size_t b = 0; b < B; ++b) result_.sequences[b].prompt_ids = req_.prompts[b];
  sampled_.resize(B);
  for (int b = 0; b < B_; ++b) live_.push_back(b);
  e_.residency_->reset_counters();
  // The timeline keeps every generate()'s records: this run's start where the last one ended.
  records_seen_ = e_.timeline_ ? e_.timeline_->records().size() : 0;
}

// Copies the staged host indices to the device and describes the pass: prefill rows are delimited
// by offsets, decode rows by the cache lengths they attend to.
Batch Engine::Run::stage_batch(bool decode, int rows) {
  IndexBuffer& bounds = decode ? len_ : offsets_;
  for (IndexBuffer* b : {&ids_, &pos_, &seq_, &bounds}) upload(be_, *b, cs_);
  Batch batch;
  batch.ids = ids_.view(dev_);
  batch.pos = pos_.view(dev_);
  batch.seq = seq_.view(dev_);
  (decode ? batch.len : batch.offsets) = bounds.view(dev_);
  batch.decode = decode;
  batch.rows = rows;
  return batch;
}

// Runs embed -> blocks -> final norm over `batch`; leaves the normed output in ws.normed.
const std::byte* Engine::Run::forward(int step, const Batch& batch, Workspace& ws, bool another_follows) {
  Timeline* tl = e_.timeline_.get();
  const std::byte* pack0 = e_.pipeline_->static_pack();
  const PackLayout& layout0 = e_.layouts_[0];
  int tok = tl ? tl->begin(TimelineKind::Other, 0, step, cs_, "embed") : -1;
  e_.family_->embed(cs_, spec_, layout0, pack0, batch, ws);
  if (tl) tl->end(tok, cs_);
  const std::function<void(int, int)>* hook = e_.cfg_.after_block ? &e_.cfg_.after_block : nullptr;
  e_.pipeline_->run_step(
      step,
      [&](int block, const std::byte* weights, Stream& s) {
        e_.family_->block(s, spec_, e_.layouts_[static_cast<std::size_t>(block) + 1], weights, batch, ws,
                          kv_[static_cast<std::size_t>(block)]);
        if (hook) be_.host_callback(s, [hook, step, block] { (*hook)(step, block); });
      },
      another_follows);
  tok = tl ? tl->begin(TimelineKind::Other, 0, step, cs_, "final norm") : -1;
  e_.family_->final_norm(cs_, spec_, layout0, pack0, ws);
  if (tl) tl->end(tok, cs_);
  return pack0;
}

// Samples one token for each live sequence from logits[live, V] (row i = live_[i]); waits for them,
// appends them, streams them, and retires the sequences that reached a stop id.
void Engine::Run::sample_and_collect(int step, TensorView logits) {
  const std::size_t n = live_.size();
  sseq_.host.assign(live_.begin(), live_.end());
  sstep_.host.assign(n, step);
  upload(be_, sseq_, cs_);
  upload(be_, sstep_, cs_);
  out_ids_.host.assign(n, 0);
  ops::sample(cs_, logits, req_.sampling, sseq_.view(dev_), sstep_.view(dev_), out_ids_.view(dev_));
  be_.memcpy_async(sampled_.data(), out_ids_.dev.data(), n * sizeof(std::int32_t), cs_);
  e_.pipeline_->synchronize();
  std::vector<int> still;
  for (std::size_t i = 0; i < n; ++i) {
    const int b = live_[i];
    SequenceResult& sr = result_.sequences[static_cast<std::size_t>(b)];
    sr.generated_ids.push_back(sampled_[i]);
    if (req_.on_token) req_.on_token(b, sampled_[i]);
    if (std::find(req_.stop_ids.begin(), req_.stop_ids.end(), sampled_[i]) != req_.stop_ids.end())
      sr.stopped = true;
    else
      still.push_back(b);
  }
  live_ = std::move(still);
}

// The bound of one step (runtime/bound.h, DESIGN.md), when a probe was given: the step's FLOPs, the
// weight bytes it moved (measured as they moved), the part of them read from storage (the kernel's
// I/O accounting), and the bytes it must read (every weight, the KV cache it attends to).
void Engine::Run::record_bound(int step, double seconds, const StepStart& at, std::int64_t rows,
                               std::int64_t attended, std::int64_t head_rows) {
  const EngineConfig& cfg = e_.cfg_;
  if (!cfg.probe) return;
  std::uint64_t weight_bytes = 0;
  for (const PackLayout& l : e_.layouts_) weight_bytes += l.used_bytes();
  const std::uint64_t kv_row_bytes = static_cast<std::uint64_t>(e_.family_->kv_width(spec_)) * 2 * sizeof(float) *
                                     static_cast<std::uint64_t>(spec_.num_layers);
  StepBound b;
  b.step = step;
  b.measured_s = seconds;
  b.flops = e_.family_->pass_flops(spec_, rows, attended, head_rows);
  b.streamed_bytes = e_.moved_bytes(b.streamed_measured) - at.moved;
  b.disk_bytes = storage_read_bytes() - at.disk;
  b.read_bytes = weight_bytes + kv_row_bytes * static_cast<std::uint64_t>(step == 0 ? rows : attended);
  b.flops_per_s = cfg.probe->flops_per_s;
  b.link_bps = link_bandwidth(*cfg.probe);
  b.disk_bps = cfg.probe->disk_read_bps;
  b.memory_bps = memory_bandwidth(*cfg.probe);
  b.memory_cache_bytes = cfg.probe->cache_bytes;
  b.link_cache_bytes = dev_ == DeviceKind::CPU ? cfg.probe->cache_bytes : 0;
  if (Timeline* tl = e_.timeline_.get()) {  // ferry's own compute time, beside the bound
    tl->resolve();  // the streams were synchronized: every interval of the step has ended
    b.ferry_compute_s = 0;
    const std::vector<TimelineRecord>& recs = tl->records();
    for (; records_seen_ < recs.size(); ++records_seen_) {
      const TimelineRecord& r = recs[records_seen_];
      if (r.step == step && r.stream == 0 && (r.kind == TimelineKind::Compute || r.kind == TimelineKind::Other))
        b.ferry_compute_s += std::max(0.0, r.end_us - r.begin_us) * 1e-6;
    }
  }
  finish_bound(b);
  bounds_.push_back(std::move(b));
}

// Every prompt token in one nested (or padded) pass, then the first token of each sequence.
void Engine::Run::prefill() {
  const auto t0 = Clock::now();
  const StepStart at = step_start();
  const int T = prefill_rows_;
  ids_.host.clear();
  pos_.host.clear();
  seq_.host.clear();
  offsets_.host.assign(1, 0);
  std::vector<int> last_row(static_cast<std::size_t>(B_));
  std::int64_t pairs = 0;
  for (int b = 0; b < B_; ++b) {
    const auto& p = req_.prompts[static_cast<std::size_t>(b)];
    const int n = padded_ ? max_len_ : static_cast<int>(p.size());
    for (int t = 0; t < n; ++t) {
      ids_.host.push_back(t < static_cast<int>(p.size()) ? p[static_cast<std::size_t>(t)] : 0);  // pad with token 0
      pos_.host.push_back(t);
      seq_.host.push_back(b);
    }
    last_row[static_cast<std::size_t>(b)] = offsets_.host.back() + static_cast<int>(p.size()) - 1;
    offsets_.host.push_back(offsets_.host.back() + n);
    pairs += causal_pairs(n);
  }
  FERRY_CHECK(static_cast<int>(ids_.host.size()) == T, "prefill row count");
  const Batch batch = stage_batch(false, T);
  Workspace ws = e_.family_->carve_workspace(spec_, T, ws_buf_.bytes_ptr(), dev_);
  const std::byte* pack0 = forward(0, batch, ws, req_.max_new_tokens > 1);
  prefill_head(ws, pack0, last_row);
  e_.pipeline_->synchronize();
  result_.stats.prefill_s = seconds_since(t0);
  record_bound(0, result_.stats.prefill_s, at, prefill_rows_, pairs, req_.prompt_logits ? prefill_rows_ : B_);
}

// The head over the prefill: every row's logits when asked for (copied out in input order), else only
// each sequence's last row; then the first sampled token.
void Engine::Run::prefill_head(const Workspace& ws, const std::byte* pack0, const std::vector<int>& last_row) {
  const int V = spec_.vocab_size, H = spec_.hidden_size, T = prefill_rows_;
  const std::size_t row_h = static_cast<std::size_t>(H) * sizeof(float), row_v = static_cast<std::size_t>(V) * sizeof(float);
  const PackLayout& layout0 = e_.layouts_[0];
  Timeline* tl = e_.timeline_.get();
  const int tok = tl ? tl->begin(TimelineKind::Other, 0, 0, cs_, "lm_head") : -1;
  TensorView sample_from;
  if (req_.prompt_logits) {
    TensorView all(logits_buf_.data(), DType::F32, Shape{T, V}, dev_);
    e_.family_->lm_head(cs_, spec_, layout0, pack0, ws.normed, all);
    for (int b = 0; b < B_; ++b)
      be_.memcpy_async(sample_logits_buf_.bytes_ptr() + static_cast<std::size_t>(b) * row_v,
                       logits_buf_.bytes_ptr() + static_cast<std::size_t>(last_row[static_cast<std::size_t>(b)]) * row_v,
                       row_v, cs_);
    sample_from = TensorView(sample_logits_buf_.data(), DType::F32, Shape{B_, V}, dev_);
    result_.prompt_logits.resize(static_cast<std::size_t>(total_) * static_cast<std::size_t>(V));
    std::size_t dst_row = 0;
    for (int b = 0; b < B_; ++b) {
      const std::size_t n = req_.prompts[static_cast<std::size_t>(b)].size();
      be_.memcpy_async(result_.prompt_logits.data() + dst_row * static_cast<std::size_t>(V),
                       logits_buf_.bytes_ptr() + static_cast<std::size_t>(offsets_.host[static_cast<std::size_t>(b)]) * row_v,
                       n * row_v, cs_);
      dst_row += n;
    }
  } else {
    for (int b = 0; b < B_; ++b)
      be_.memcpy_async(last_buf_.bytes_ptr() + static_cast<std::size_t>(b) * row_h,
                       static_cast<std::byte*>(ws.normed.data) + static_cast<std::size_t>(last_row[static_cast<std::size_t>(b)]) * row_h,
                       row_h, cs_);
    sample_from = TensorView(logits_buf_.data(), DType::F32, Shape{B_, V}, dev_);
    e_.family_->lm_head(cs_, spec_, layout0, pack0, TensorView(last_buf_.data(), DType::F32, Shape{B_, H}, dev_),
                        sample_from);
  }
  if (tl) tl->end(tok, cs_);
  if (req_.max_new_tokens > 0) sample_and_collect(0, sample_from);
}

// One row per live sequence, attending to its KV cache slot.
void Engine::Run::decode_step(int step) {
  const auto t0 = Clock::now();
  const StepStart at = step_start();
  const std::size_t n = live_.size();
  ids_.host.resize(n);
  pos_.host.resize(n);
  seq_.host.resize(n);
  len_.host.resize(n);
  std::int64_t attended = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const SequenceResult& sr = result_.sequences[static_cast<std::size_t>(live_[i])];
    ids_.host[i] = sr.generated_ids.back();
    pos_.host[i] = static_cast<std::int32_t>(sr.prompt_ids.size() + sr.generated_ids.size() - 1);
    seq_.host[i] = live_[i];
    len_.host[i] = pos_.host[i] + 1;
    attended += len_.host[i];
  }
  const int rows = static_cast<int>(n);
  const Batch batch = stage_batch(true, rows);
  Workspace ws = e_.family_->carve_workspace(spec_, rows, ws_buf_.bytes_ptr(), dev_);
  const std::byte* pack0 = forward(step, batch, ws, step + 1 < req_.max_new_tokens);
  TensorView lg(logits_buf_.data(), DType::F32, Shape{rows, spec_.vocab_size}, dev_);
  Timeline* tl = e_.timeline_.get();
  const int tok = tl ? tl->begin(TimelineKind::Other, 0, step, cs_, "lm_head") : -1;
  e_.family_->lm_head(cs_, spec_, e_.layouts_[0], pack0, ws.normed, lg);
  if (tl) tl->end(tok, cs_);
  sample_and_collect(step, lg);
  decode_tokens_ += rows;
  ++result_.stats.decode_steps;
  record_bound(step, seconds_since(t0), at, rows, attended, rows);
}

void Engine::Run::finish_stats(double decode_s) {
  RunStats& st = result_.stats;
  st.decode_s = decode_s;
  st.load_s = e_.load_s_;
  st.prompt_tokens = total_;
  st.generated_tokens = 0;
  for (const SequenceResult& sr : result_.sequences) st.generated_tokens += static_cast<std::int64_t>(sr.generated_ids.size());
  st.prefill_tokens_per_s = st.prefill_s > 0 ? static_cast<double>(total_) / st.prefill_s : 0;
  st.decode_tokens_per_s = st.decode_s > 0 && decode_tokens_ > 0 ? static_cast<double>(decode_tokens_) / st.decode_s : 0;
  st.bytes_h2d = e_.moved_bytes(st.bytes_measured) - run_start_.moved;
  st.bytes_from_disk = storage_read_bytes() - run_start_.disk;
  st.bytes_d2h = e_.residency_->bytes_d2h();
  st.budget = e_.plan_.budget;
  st.peak_resident = e_.residency_->peak_bytes();
  st.model_bytes = e_.plan_.model_bytes;
  st.fetches = e_.residency_->fetches();
  st.evictions = e_.residency_->evictions();
  st.batch_buffer_bytes = kv_buf_.size() + ws_buf_.size() + logits_buf_.size() + last_buf_.size() + sample_logits_buf_.size();
  for (const IndexBuffer* b : {&ids_, &pos_, &seq_, &offsets_, &len_, &sseq_, &sstep_, &out_ids_})
    st.batch_buffer_bytes += b->dev.size();
  const DeviceMemoryInfo mem = be_.memory_info();
  st.device_used_bytes = mem.total_bytes > mem.free_bytes ? mem.total_bytes - mem.free_bytes : 0;
  if (const auto& probe = e_.cfg_.probe) {
    st.bound_link_bps = e_.bound_link_bps();
    st.bound_memory_bps = memory_bandwidth(*probe);
    st.bound_disk_bps = probe->disk_read_bps;
    st.bound_flops_per_s = probe->flops_per_s;
    const BoundSummary sum = summarize_bounds(bounds_);
    st.prefill_bound_fraction = sum.prefill_fraction;
    st.decode_bound_fraction = sum.decode_fraction;
    st.max_bound_fraction = sum.max_fraction;
    st.limited_by = sum.limited_by;
    st.steps = std::move(bounds_);
  }
}

}  // namespace ferry
