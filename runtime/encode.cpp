// Engine::encode(): one nested batch through an encoder (BERT), as the steps of Engine::Encode:
//   check the request -> allocate the pass's buffers (no KV cache) -> embed, every block on the
//   LayerPipeline (so the placement policies and the budget apply as for decoders), the hidden
//   state -> gather the rows the output needs -> the head, or the hidden states -> copy out.
// The padded layout (the comparison path of `ferry bench encoder`) pads each sequence to the
// longest with token 0 and masks the pad keys in the unfused attention; only real rows come back.
#include <algorithm>
#include <cstring>

#include "base/error.h"
#include "base/sysinfo.h"
#include "base/units.h"
#include "memory/buffer.h"
#include "runtime/clock.h"
#include "runtime/engine.h"
#include "runtime/index_buffer.h"
#include "runtime/prompts.h"

namespace ferry {

namespace {

Buffer device_buffer(DeviceKind d, std::size_t bytes) {
  Buffer b = Buffer::allocate(d, BufferKind::Device, std::max<std::size_t>(bytes, 1), 256);
  // CPU: faulted in now, so the pass's memory is what was allocated (and is measured as such).
  if (d == DeviceKind::CPU) std::memset(b.bytes_ptr(), 0, b.size());
  return b;
}

}  // namespace

class Engine::Encode {
 public:
  Encode(Engine& e, const EncodeRequest& req)
      : e_(e), req_(req), spec_(e.spec_), dev_(e.cfg_.device), be_(*e.backend_), cs_(e.pipeline_->compute_stream()) {
    check_request();
  }

  EncodeResult execute() {
    const LayerPipeline::FailureGuard on_failure(*e_.pipeline_);
    e_.residency_->reset_counters();
    bool measured = true;
    const std::uint64_t moved0 = e_.moved_bytes(measured);
    const auto t0 = Clock::now();
    allocate_and_stage();
    Workspace ws = e_.family_->carve_workspace(spec_, rows_, ws_buf_.bytes_ptr(), dev_);
    if (padded_)
      ws.scores = TensorView(scores_buf_.data(), DType::F32, Shape{spec_.num_heads, max_len_, max_len_}, dev_);
    forward(ws);
    output(ws);
    e_.pipeline_->synchronize();
    finish_stats(seconds_since(t0), moved0);
    return std::move(result_);
  }

 private:
  void check_request();
  void check_types(int b) const;
  bool per_sequence_head() const;    // Pooler and SequenceClassifier read each sequence's first row
  std::int64_t output_rows() const;  // rows of the result: B for per-sequence heads, else tokens asked for
  void check_reserve() const;
  void allocate_and_stage();
  void forward(Workspace& ws);
  void output(const Workspace& ws);
  std::vector<std::int64_t> head_rows() const;  // the nested rows the output reads, in order
  void finish_stats(double seconds, std::uint64_t moved0);

  Engine& e_;
  const EncodeRequest& req_;
  const ModelSpec& spec_;
  const DeviceKind dev_;
  Backend& be_;
  Stream& cs_;
  int B_ = 0, max_len_ = 0, rows_ = 0;
  std::int64_t total_ = 0;
  bool padded_ = false;
  std::vector<std::int64_t> start_;  // [B] first row of each sequence in the pass
  Buffer ws_buf_, scores_buf_, x_buf_, tmp_buf_, out_buf_;
  IndexBuffer ids_, pos_, seq_, types_, offsets_, len_;
  EncodeResult result_;
};

EncodeResult Engine::encode(const EncodeRequest& req) {
  if (family_->causal())
    throw BadInput("model " + spec_.name + " is a decoder (family " + family_->name() +
                   "): it has no encoder outputs; use ferry run");
  pipeline_->check_usable();
  Encode run(*this, req);
  return run.execute();
}

void Engine::Encode::check_request() {
  B_ = static_cast<int>(req_.prompts.size());
  const TokenBatchShape shape = check_token_batch(req_.prompts, "input", spec_.vocab_size);
  max_len_ = shape.max_len;
  total_ = shape.total;
  if (!req_.types.empty() && req_.types.size() != req_.prompts.size())
    throw BadInput("token types: " + std::to_string(req_.types.size()) + " sequences for " + std::to_string(B_) + " inputs");
  for (int b = 0; b < B_; ++b) {
    const auto& p = req_.prompts[static_cast<std::size_t>(b)];
    const std::string which = "input " + std::to_string(b + 1);
    if (static_cast<std::int64_t>(p.size()) > spec_.context_length)
      throw BadInput(which + ": " + std::to_string(p.size()) + " tokens exceed the model's " +
                     std::to_string(spec_.context_length) + " positions (max_position_embeddings)");
    if (!req_.types.empty()) check_types(b);
  }
  padded_ = e_.cfg_.layout == Layout::Padded;
  rows_ = padded_ ? B_ * max_len_ : static_cast<int>(total_);
  if (req_.head) e_.family_->check_head(spec_, *req_.head);
  for (std::int64_t r : req_.rows)
    if (r < 0 || r >= total_)
      throw BadInput("row " + std::to_string(r) + " is outside the batch's " + std::to_string(total_) + " tokens");
  if (dev_ == DeviceKind::CUDA) check_reserve();
}

void Engine::Encode::check_types(int b) const {
  const auto& p = req_.prompts[static_cast<std::size_t>(b)];
  const auto& t = req_.types[static_cast<std::size_t>(b)];
  const std::string which = "input " + std::to_string(b + 1);
  if (t.size() != p.size())
    throw BadInput(which + ": " + std::to_string(t.size()) + " token types for " + std::to_string(p.size()) + " ids");
  for (std::int32_t v : t)
    if (v < 0 || v >= spec_.type_vocab_size)
      throw BadInput(which + ": token type " + std::to_string(v) + " is out of range for type_vocab_size " +
                     std::to_string(spec_.type_vocab_size));
}

bool Engine::Encode::per_sequence_head() const {
  return req_.head && (*req_.head == EncoderHead::Pooler || *req_.head == EncoderHead::SequenceClassifier);
}

std::int64_t Engine::Encode::output_rows() const {
  if (per_sequence_head()) return B_;
  return req_.rows.empty() ? total_ : static_cast<std::int64_t>(req_.rows.size());
}

// CUDA: the batch's buffers must fit what was reserved for them (and taken out of the budget).
void Engine::Encode::check_reserve() const {
  const int W = req_.head ? e_.family_->head_width(spec_, *req_.head) : 0;
  const std::uint64_t need = encode_device_bytes(spec_, B_, rows_, max_len_, padded_, output_rows(), W);
  const std::uint64_t have = batch_reserve_bytes(spec_, e_.cfg_.max_batch_tokens, e_.cfg_.max_sequences);
  if (need > have)
    throw ResourceExhausted("this batch needs " + format_bytes(need) + " of device memory for its activations (" +
                            std::to_string(B_) + " inputs, " + std::to_string(rows_) + " rows" +
                            (padded_ ? " padded" : "") + "), more than the " + format_bytes(have) +
                            " reserved for --max-batch-tokens " + std::to_string(e_.cfg_.max_batch_tokens) +
                            " --max-seqs " + std::to_string(e_.cfg_.max_sequences) +
                            "; raise them (the reserve counts against --budget)");
}

void Engine::Encode::allocate_and_stage() {
  offsets_.host.assign(1, 0);
  for (int b = 0; b < B_; ++b) {
    const auto& p = req_.prompts[static_cast<std::size_t>(b)];
    const int n = padded_ ? max_len_ : static_cast<int>(p.size());
    start_.push_back(offsets_.host.back());
    for (int t = 0; t < n; ++t) {
      const bool real = t < static_cast<int>(p.size());
      ids_.host.push_back(real ? p[static_cast<std::size_t>(t)] : 0);  // pad with token 0
      pos_.host.push_back(t);
      seq_.host.push_back(b);
      types_.host.push_back(real && !req_.types.empty() ? req_.types[static_cast<std::size_t>(b)][static_cast<std::size_t>(t)] : 0);
    }
    len_.host.push_back(static_cast<std::int32_t>(p.size()));
    offsets_.host.push_back(offsets_.host.back() + n);
  }
  ws_buf_ = device_buffer(dev_, e_.family_->workspace_bytes(spec_, rows_));
  if (padded_)
    scores_buf_ = device_buffer(dev_, static_cast<std::size_t>(spec_.num_heads) * static_cast<std::size_t>(max_len_) *
                                          static_cast<std::size_t>(max_len_) * sizeof(float));
  for (IndexBuffer* i : {&ids_, &pos_, &seq_, &types_, &offsets_, &len_}) {
    i->dev = index_buffer(dev_, i->host.size());
    upload(be_, *i, cs_);
  }
}

void Engine::Encode::forward(Workspace& ws) {
  Batch batch;
  batch.ids = ids_.view(dev_);
  batch.pos = pos_.view(dev_);
  batch.seq = seq_.view(dev_);
  batch.types = types_.view(dev_);
  batch.offsets = offsets_.view(dev_);
  batch.len = len_.view(dev_);
  batch.padded = padded_;
  batch.rows = rows_;
  const std::byte* pack0 = e_.pipeline_->static_pack();
  e_.family_->embed(cs_, spec_, e_.layouts_[0], pack0, batch, ws);
  const std::function<void(int, int)>* hook = e_.cfg_.after_block ? &e_.cfg_.after_block : nullptr;
  e_.pipeline_->run_step(
      0,
      [&](int block, const std::byte* weights, Stream& s) {
        e_.family_->block(s, spec_, e_.layouts_[static_cast<std::size_t>(block) + 1], weights, batch, ws,
                          KVLayer{});
        if (hook) be_.host_callback(s, [hook, block] { (*hook)(0, block); });
      },
      false);
  e_.family_->final_norm(cs_, spec_, e_.layouts_[0], pack0, ws);
}

std::vector<std::int64_t> Engine::Encode::head_rows() const {
  std::vector<std::int64_t> rows;
  if (per_sequence_head()) {
    rows = start_;
    return rows;
  }
  // Token index in input order -> row of the pass (the same in the nested layout).
  std::vector<std::int64_t> token_row;
  for (int b = 0; b < B_; ++b)
    for (std::size_t t = 0; t < req_.prompts[static_cast<std::size_t>(b)].size(); ++t)
      token_row.push_back(start_[static_cast<std::size_t>(b)] + static_cast<std::int64_t>(t));
  if (req_.rows.empty()) return token_row;
  for (std::int64_t r : req_.rows) rows.push_back(token_row[static_cast<std::size_t>(r)]);
  return rows;
}

// Copies the rows the output reads next to each other (runs of consecutive rows in one copy), then
// runs the head on them, or copies them out as they are.
void Engine::Encode::output(const Workspace& ws) {
  const std::vector<std::int64_t> rows = head_rows();
  const std::int64_t R = static_cast<std::int64_t>(rows.size());
  const std::int64_t H = spec_.hidden_size;
  const std::size_t row_h = static_cast<std::size_t>(H) * sizeof(float);
  const int W = req_.head ? e_.family_->head_width(spec_, *req_.head) : static_cast<int>(H);
  x_buf_ = device_buffer(dev_, static_cast<std::size_t>(R) * row_h);
  const auto* src = static_cast<const std::byte*>(ws.normed.data);
  for (std::int64_t i = 0; i < R;) {
    std::int64_t n = 1;
    while (i + n < R && rows[static_cast<std::size_t>(i + n)] == rows[static_cast<std::size_t>(i)] + n) ++n;
    be_.memcpy_async(x_buf_.bytes_ptr() + static_cast<std::size_t>(i) * row_h,
                     src + static_cast<std::size_t>(rows[static_cast<std::size_t>(i)]) * row_h,
                     static_cast<std::size_t>(n) * row_h, cs_);
    i += n;
  }
  const TensorView x(x_buf_.data(), DType::F32, Shape{R, H}, dev_);
  const Buffer* out = &x_buf_;
  if (req_.head) {
    tmp_buf_ = device_buffer(dev_, static_cast<std::size_t>(R) * 2 * row_h);
    out_buf_ = device_buffer(dev_, static_cast<std::size_t>(R) * static_cast<std::size_t>(W) * sizeof(float));
    e_.family_->encoder_head(cs_, spec_, e_.layouts_[0], e_.pipeline_->static_pack(), *req_.head, x,
                             TensorView(tmp_buf_.data(), DType::F32, Shape{R, 2 * H}, dev_),
                             TensorView(out_buf_.data(), DType::F32, Shape{R, W}, dev_));
    out = &out_buf_;
  }
  result_.rows = R;
  result_.width = W;
  result_.values.resize(static_cast<std::size_t>(R) * static_cast<std::size_t>(W));
  if (!result_.values.empty()) be_.memcpy_async(result_.values.data(), out->data(), result_.values.size() * sizeof(float), cs_);
}

void Engine::Encode::finish_stats(double seconds, std::uint64_t moved0) {
  RunStats& st = result_.stats;
  st.load_s = e_.load_s_;
  st.prefill_s = seconds;
  st.prompt_tokens = total_;
  st.prefill_tokens_per_s = seconds > 0 ? static_cast<double>(total_) / seconds : 0;
  st.bytes_h2d = e_.moved_bytes(st.bytes_measured) - moved0;
  st.bytes_d2h = e_.residency_->bytes_d2h();
  st.budget = e_.plan_.budget;
  st.peak_resident = e_.residency_->peak_bytes();
  st.model_bytes = e_.plan_.model_bytes;
  st.fetches = e_.residency_->fetches();
  st.evictions = e_.residency_->evictions();
  result_.activation_bytes = ws_buf_.size() + scores_buf_.size();
  st.batch_buffer_bytes = result_.activation_bytes + x_buf_.size() + tmp_buf_.size() + out_buf_.size();
  for (const IndexBuffer* i : {&ids_, &pos_, &seq_, &types_, &offsets_, &len_}) st.batch_buffer_bytes += i->dev.size();
  const DeviceMemoryInfo mem = be_.memory_info();
  st.device_used_bytes = mem.total_bytes > mem.free_bytes ? mem.total_bytes - mem.free_bytes : 0;
}

}  // namespace ferry
