#include "runtime/engine.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>
#include <vector>

#include "base/error.h"
#include "base/progress.h"
#include "base/sysinfo.h"
#include "base/transpose.h"
#include "base/um_counters.h"
#include "memory/buffer.h"
#include "models/family.h"
#include "models/weights.h"
#include "runtime/clock.h"
#include "runtime/run_plan.h"

namespace ferry {

Layout parse_layout(const std::string& s, const std::string& what) {
  if (s == "nested") return Layout::Nested;
  if (s == "padded") return Layout::Padded;
  throw BadInput(what + ": unknown layout '" + s + "' (expected nested or padded)");
}

const char* layout_name(Layout l) { return l == Layout::Nested ? "nested" : "padded"; }

WeightsMode parse_weights_mode(const std::string& s, const std::string& what) {
  if (s == "stored") return WeightsMode::Stored;
  if (s == "f32") return WeightsMode::F32;
  throw BadInput(what + ": unknown weights mode '" + s + "' (expected stored or f32)");
}

const char* weights_mode_name(WeightsMode m) { return m == WeightsMode::Stored ? "stored" : "f32"; }

// Both backends compute with f32, f16 and bf16 weights (ops/ops.h).
DType weight_dtype_for(const ModelSpec& spec, WeightsMode mode) {
  return mode == WeightsMode::Stored ? spec.dtype : DType::F32;
}

std::vector<std::uint64_t> model_pack_bytes(const ModelSpec& spec, WeightsMode mode) {
  std::vector<std::uint64_t> bytes;
  for (const PackLayout& l : pack_layouts(spec, weight_dtype_for(spec, mode))) bytes.push_back(l.bytes());
  return bytes;
}

std::uint64_t batch_device_bytes(const ModelSpec& spec, std::int64_t sequences, std::int64_t rows,
                                 std::int64_t kv_positions, std::int64_t logit_rows, bool prompt_logits) {
  // Mirrors Engine::Run::allocate() (runtime/generate.cpp).
  const auto B = static_cast<std::uint64_t>(std::max<std::int64_t>(sequences, 1));
  const auto R = static_cast<std::uint64_t>(std::max(rows, sequences));
  const auto H = static_cast<std::uint64_t>(spec.hidden_size), V = static_cast<std::uint64_t>(spec.vocab_size);
  const std::uint64_t f = sizeof(float), i = sizeof(std::int32_t);
  const auto KV = static_cast<std::uint64_t>(model_family(spec).kv_width(spec));
  std::uint64_t n = static_cast<std::uint64_t>(kv_positions) * KV * 2 * f * static_cast<std::uint64_t>(spec.num_layers);
  n += model_family(spec).workspace_bytes(spec, static_cast<int>(R));
  n += std::max(static_cast<std::uint64_t>(std::max<std::int64_t>(logit_rows, 0)), B) * V * f;
  n += B * H * f;
  if (prompt_logits) n += B * V * f;
  n += 3 * std::max<std::uint64_t>(R, 1) * i + (B + 1) * i + 4 * B * i;  // ids, pos, seq; offsets; len, sseq, sstep, out
  return n;
}

std::uint64_t encode_device_bytes(const ModelSpec& spec, std::int64_t sequences, std::int64_t rows, std::int64_t max_len,
                                  bool padded, std::int64_t out_rows, int head_width) {
  // Mirrors Engine::Encode::allocate_and_stage() and output() (runtime/encode.cpp): every buffer
  // there is at least 1 byte, every index buffer at least one i32.
  const auto at_least_1 = [](std::uint64_t b) { return std::max<std::uint64_t>(b, 1); };
  const auto idx = [](std::int64_t n) { return static_cast<std::uint64_t>(std::max<std::int64_t>(n, 1)) * sizeof(std::int32_t); };
  const std::uint64_t f = sizeof(float), H = static_cast<std::uint64_t>(spec.hidden_size);
  const auto R = static_cast<std::uint64_t>(std::max<std::int64_t>(out_rows, 0));
  std::uint64_t n = at_least_1(model_family(spec).workspace_bytes(spec, static_cast<int>(rows)));
  if (padded)
    n += at_least_1(static_cast<std::uint64_t>(spec.num_heads) * static_cast<std::uint64_t>(max_len) *
                    static_cast<std::uint64_t>(max_len) * f);
  n += 4 * idx(rows) + idx(sequences + 1) + idx(sequences);  // ids, pos, seq, types; offsets; len
  n += at_least_1(R * H * f);                                // the gathered rows
  if (head_width > 0) n += at_least_1(R * 2 * H * f) + at_least_1(R * static_cast<std::uint64_t>(head_width) * f);
  return n;
}

namespace {

// The largest batch of (max_batch_tokens T, max_sequences S) through an encoder: T rows, in the
// padded layout too (a score matrix of the longest sequence), the hidden states of every row, and
// the checkpoint's head on every row, or, for a masked-LM head's vocabulary-wide rows, on S rows.
std::uint64_t encoder_reserve_bytes(const ModelSpec& spec, std::int64_t T, std::int64_t S) {
  const ModelFamily& fam = model_family(spec);
  int W = 0;
  for (EncoderHead h : {EncoderHead::MaskedLm, EncoderHead::SequenceClassifier, EncoderHead::TokenClassifier,
                        EncoderHead::SpanQa})
    if (spec.head == encoder_head_name(h)) W = fam.head_width(spec, h);
  const std::int64_t longest = std::min<std::int64_t>(T, spec.context_length);
  const std::uint64_t rows = encode_device_bytes(spec, S, T, longest, true, T, 0);
  const std::int64_t head_rows = spec.head == "masked_lm" ? S : T;
  const std::uint64_t H = static_cast<std::uint64_t>(spec.hidden_size);
  return rows + static_cast<std::uint64_t>(head_rows) * (2 * H + static_cast<std::uint64_t>(std::max(W, spec.hidden_size))) * sizeof(float);
}

}  // namespace

std::uint64_t batch_reserve_bytes(const ModelSpec& spec, int max_batch_tokens, int max_sequences) {
  const std::int64_t T = std::max(max_batch_tokens, max_sequences);
  if (!model_family(spec).causal()) return encoder_reserve_bytes(spec, T, max_sequences);
  return batch_device_bytes(spec, max_sequences, T, T, max_sequences, false);
}

Engine::Engine(const ModelSpec& spec, const EngineConfig& cfg) : spec_(spec), cfg_(cfg) {
  backend_ = make_backend(cfg_.device, cfg_.device_index, cfg_.threads);
  family_ = &model_family(spec_);
  layouts_ = pack_layouts(spec_, weight_dtype_for(spec_, cfg_.weights));
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

namespace {

// A [K, N] checkpoint tensor into its [N, K] pack tensor (TensorInfo::transpose), through `tmp`,
// one buffer for the whole load, grown to the largest such tensor: a buffer per tensor, each
// freed at once, piled up under ASan's quarantine (MemoryOutside's peak-RSS test).
void read_transposed(WeightSource& source, const TensorInfo& t, DType wdt, std::size_t bytes, std::byte* dst,
                     std::vector<std::byte>& tmp) {
  FERRY_CHECK(t.shape.rank == 2 && t.row_offset == 0, "transposed pack tensor " + t.name + " must be a whole matrix");
  if (tmp.size() < bytes) tmp.resize(bytes);
  source.read(t.name, t.shape, wdt, tmp.data());
  transpose(tmp.data(), dst, t.shape[0], t.shape[1], dtype_size(wdt));
}

}  // namespace

void Engine::load() {
  const auto t0 = Clock::now();
  std::unique_ptr<WeightSource> source = make_weight_source(spec_);
  weights_desc_ = source->describe();
  const DType wdt = weight_dtype_for(spec_, cfg_.weights);
  const std::vector<TensorInfo> tensors = family_->tensors(spec_);
  std::uint64_t total = 0;
  for (const PackLayout& l : layouts_) total += l.used_bytes();
  Progress bar("loading " + spec_.name, total, cfg_.progress);
  std::vector<std::byte> transpose_tmp;
  for (int p = 0; p < static_cast<int>(layouts_.size()); ++p) {
    const PackLayout& layout = layouts_[static_cast<std::size_t>(p)];
    std::byte* base = placement_->fill_begin(p);
    for (const TensorInfo& t : tensors) {
      if (t.pack != p) continue;
      // A part of a fused pack tensor fills its rows (models/family.h TensorInfo).
      const PackedTensor& pt = layout.find(t.local);
      const std::size_t row_bytes = pt.bytes / static_cast<std::size_t>(std::max<std::int64_t>(pt.shape[0], 1));
      const std::size_t part = t.pack_shape.rank == 0 ? pt.bytes : static_cast<std::size_t>(t.shape[0]) * row_bytes;
      std::byte* dst = base + pt.offset + static_cast<std::size_t>(t.row_offset) * row_bytes;
      if (t.transpose)
        read_transposed(*source, t, wdt, pt.bytes, dst, transpose_tmp);
      else
        source->read(t.name, t.shape, wdt, dst);
      bar.advance(part);
    }
    placement_->fill_end(p);
  }
  bar.finish();
  load_s_ = seconds_since(t0);
}

}  // namespace ferry
