// Engine: owns a Backend, a loaded model (its packs placed by policy), a Plan and a LayerPipeline;
// runs a nested batch of prompts through prefill and decode steps with a KV cache, and samples.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/backend.h"
#include "base/units.h"
#include "memory/layer_pack.h"
#include "memory/placement.h"
#include "memory/probe.h"
#include "memory/residency.h"
#include "models/family.h"
#include "models/model_spec.h"
#include "ops/ops.h"
#include "ops/profile.h"
#include "runtime/bound.h"
#include "scheduler/pipeline.h"
#include "scheduler/planner.h"
#include "scheduler/timeline.h"

namespace ferry {

enum class Layout : std::uint8_t { Nested, Padded };

// The type the weights are packed in (`--weights`). Stored: the checkpoint's own (an F16 or BF16
// model stays 16-bit, so decode reads half the bytes; quantized GGUF tensors are dequantized to
// f32); F32: everything widened to f32 at load (the CPU path before ferry issue 11, for comparison).
enum class WeightsMode : std::uint8_t { Stored, F32 };
WeightsMode parse_weights_mode(const std::string& s, const std::string& what);
const char* weights_mode_name(WeightsMode m);  // "stored", "f32"
DType weight_dtype_for(const ModelSpec& spec, WeightsMode mode);  // the packs' dtype
std::vector<std::uint64_t> model_pack_bytes(const ModelSpec& spec, WeightsMode mode);
Layout parse_layout(const std::string& s, const std::string& what);
const char* layout_name(Layout l);

struct EngineConfig {
  DeviceKind device = DeviceKind::CPU;
  int device_index = 0;
  int threads = 0;                  // CPU: 0 = all cores
  WeightsMode weights = WeightsMode::Stored;
  Policy policy = Policy::Auto;
  BudgetSpec budget;                // unset = no limit; percentages are of the model's weight bytes
  // The host tier (DESIGN.md "Three tiers"): streamed layers kept in host RAM between uses (CUDA:
  // pinned; CPU: the page cache of the pack file); the rest are read from disk every time. Unset =
  // the available RAM less a margin (runtime/run_plan.h host_budget).
  BudgetSpec host_budget;
  int prefetch_depth = 1;
  int streams = 2;
  Layout layout = Layout::Nested;   // padded exists only for comparison
  // CUDA only (docs/cuda.md). Device memory is reserved for the largest batch: at most
  // max_sequences sequences and sequences x (longest prompt + new tokens) <= max_batch_tokens;
  // the reserve counts against the budget, and generate() refuses a batch that needs more.
  int max_batch_tokens = 4096;
  int max_sequences = 32;
  std::uint64_t gpu_mem_limit = 0;   // treat the device as having this many bytes (0 = its free memory)
  bool allow_oversubscribe = false;  // um / um-prefetch: managed weights may exceed the free memory
  std::string pack_dir = "/var/tmp";  // where the CPU mmap tiers keep their packed weights (the CLI resolves a disk directory)
  bool progress = true;             // progress bar on stderr while loading (only on a tty)
  bool trace = false;               // record a Timeline of every prefetch / compute / evict (costs a
                                    // record per interval; off, nothing is recorded)
  // Measured bandwidths and FLOP rate (`ferry probe`): when set, every step is reported against the
  // bound of DESIGN.md (RunStats::steps). ferry's own compute time is added beside it with `trace`.
  std::optional<ProbeResult> probe;
  // Called after block `block` (0-based) of step `step` (0 = prefill) has computed, in stream order
  // on the compute stream (a host callback: on CPU the stream's thread, on CUDA the driver's callback
  // thread). Tests use it to measure memory from outside ferry at every layer, and to inject
  // failures (an exception thrown here fails the step). Must not call back into the Engine.
  std::function<void(int step, int block)> after_block;
};

struct GenerateRequest {
  std::vector<std::vector<std::int32_t>> prompts;  // token ids, one vector per sequence
  int max_new_tokens = 0;                          // 0 = prompt only; at most this many per sequence
  // A sequence ends after it generates one of these ids (kept in generated_ids); the others go on.
  std::vector<std::int32_t> stop_ids;
  // Called on the calling thread with each sequence's new token as soon as it is sampled (streaming).
  std::function<void(int sequence, std::int32_t id)> on_token;
  ops::SamplingParams sampling;
  bool prompt_logits = false;                      // keep logits of every prompt token
};

struct SequenceResult {
  std::vector<std::int32_t> prompt_ids;
  std::vector<std::int32_t> generated_ids;
  bool stopped = false;  // ended at a stop id (else at max_new_tokens)
};

struct RunStats {
  double load_s = 0, prefill_s = 0, decode_s = 0;
  std::int64_t prompt_tokens = 0, generated_tokens = 0;
  int decode_steps = 0;
  double prefill_tokens_per_s = 0, decode_tokens_per_s = 0;
  std::uint64_t bytes_h2d = 0, bytes_d2h = 0;  // weight bytes moved between tiers in this run
  // Of bytes_h2d, measured (runtime/bound.h): the bytes read from storage by the process in this
  // run (/proc/self/io), and whether bytes_h2d itself was measured (false: counted as issued).
  std::uint64_t bytes_from_disk = 0;
  bool bytes_measured = true;
  std::uint64_t budget = 0, peak_resident = 0, model_bytes = 0;
  std::uint64_t fetches = 0, evictions = 0;
  // The bound (runtime/bound.h), when EngineConfig::probe is set: one StepBound per step (0 =
  // prefill), the probed bandwidths for the plan's policy, and the summary of the steps.
  std::vector<StepBound> steps;
  double bound_link_bps = 0, bound_memory_bps = 0, bound_disk_bps = 0, bound_flops_per_s = 0;
  double prefill_bound_fraction = 0, decode_bound_fraction = 0;  // decode: median over the steps
  double max_bound_fraction = 0;                                 // the largest of any step
  std::string limited_by;  // most common limit of the decode steps: "compute", "link" or "memory"
  // Memory of the run (`ferry pressure`): the bytes of generate()'s batch buffers on the device (KV
  // cache, activations, logits, indices; the weights are peak_resident), and Backend::memory_info()
  // total - free sampled at the end of the run while they were allocated (CUDA: the device memory in
  // use by every process on it; CPU: the machine's RAM in use).
  std::uint64_t batch_buffer_bytes = 0, device_used_bytes = 0;
  // CPU with EngineConfig::trace: each op's time in the prefill and over the decode steps
  // (ops/profile.h), longest first; empty otherwise.
  std::vector<ops::OpTime> prefill_ops, decode_ops;
};

struct GenerateResult {
  std::vector<SequenceResult> sequences;
  std::vector<float> prompt_logits;  // [total_prompt_tokens, vocab] in input order, when asked
  RunStats stats;
};

// One nested batch through an encoder (ModelFamily::causal() false): every token in one pass, then
// the last hidden states or a head.
struct EncodeRequest {
  std::vector<std::vector<std::int32_t>> prompts;  // token ids as the tokenizer gives them ([CLS] ... [SEP])
  std::vector<std::vector<std::int32_t>> types;    // token type of each id (BERT's segment A 0 / B 1); empty = all 0
  // Without a head, the last hidden states of `rows` (token indices in input order; empty = every
  // token) [rows, H]. With one: Pooler and SequenceClassifier on each sequence's first token
  // [B, width] (rows ignored); MaskedLm, TokenClassifier and SpanQa on `rows` [rows, width].
  std::optional<EncoderHead> head;
  std::vector<std::int64_t> rows;
};

struct EncodeResult {
  std::vector<float> values;  // [rows, width] row-major, f32
  std::int64_t rows = 0;
  int width = 0;
  // The pass: stats.prefill_s (embed, blocks and head), prompt_tokens, prefill_tokens_per_s, the
  // weights moved, the budget and residency; stats.batch_buffer_bytes = activation_bytes + indices.
  RunStats stats;
  // Bytes of the activation buffers of the pass (the workspace of every row, and in the padded
  // layout the attention score matrix), allocated and faulted in for this call.
  std::uint64_t activation_bytes = 0;
};

class Engine {
 public:
  // Validates the config, plans, places and loads the weights. Throws BadInput / ResourceExhausted.
  Engine(const ModelSpec& spec, const EngineConfig& cfg);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Throws BadInput for an empty batch, a token id >= vocab, or prompt + new tokens > context;
  // BadInput for an encoder (use encode()).
  GenerateResult generate(const GenerateRequest& req);
  // Encoders only (runtime/encode.cpp). Throws BadInput for a decoder, an empty batch or sequence, an
  // id >= vocab, a type >= type_vocab_size, a sequence longer than the context, a head the checkpoint
  // lacks, or a row out of range. Layout::Padded pads every sequence to the longest and masks the pad
  // keys in an unfused attention (the comparison path); the real rows' results are returned.
  EncodeResult encode(const EncodeRequest& req);

  const ModelSpec& spec() const { return spec_; }
  const Plan& plan() const { return plan_; }
  const Backend& backend() const { return *backend_; }
  const std::vector<PackLayout>& layouts() const { return layouts_; }
  Timeline* timeline() { return timeline_.get(); }
  double load_seconds() const { return load_s_; }
  std::string weights_description() const { return weights_desc_; }
  // The dtype of the packed weights the kernels read (--weights: the checkpoint's, or f32).
  DType packed_dtype() const { return weight_dtype_for(spec_, cfg_.weights); }
  WeightsMode weights_mode() const { return cfg_.weights; }
  // CUDA: device bytes reserved for activations, logits, the KV cache and the ops' workspace
  // (already taken out of the budget); 0 on the CPU.
  std::uint64_t reserved_bytes() const { return reserved_bytes_; }
  // The link bandwidth of the bound (the same for every policy: memory/probe.h link_bandwidth).
  double bound_link_bps() const { return cfg_.probe ? link_bandwidth(*cfg_.probe) : 0; }
  // Weight bytes moved to the compute tier so far, measured (Placement::moved_bytes, or CUPTI's
  // migrations under CUDA managed memory); `measured` false when only the issued bytes are known.
  std::uint64_t moved_bytes(bool& measured) const;
  // The placement, for tests that measure residency from outside ferry (weight_regions()).
  const Placement& placement() const { return *placement_; }

 private:
  class Run;     // one generate() call (runtime/generate.cpp)
  class Encode;  // one encode() call (runtime/encode.cpp)
  void load();
  ModelSpec spec_;
  const ModelFamily* family_ = nullptr;
  EngineConfig cfg_;
  std::unique_ptr<Backend> backend_;
  std::vector<PackLayout> layouts_;
  Plan plan_;
  std::unique_ptr<Placement> placement_;
  std::unique_ptr<Residency> residency_;
  std::unique_ptr<Timeline> timeline_;
  std::unique_ptr<LayerPipeline> pipeline_;
  double load_s_ = 0;
  std::uint64_t reserved_bytes_ = 0;
  bool um_counted_ = false;  // CUDA um / um-prefetch: CUPTI counts the migrations
  std::string weights_desc_;
};

// Per-pack sizes (PackLayout::bytes) of a model for a backend, without loading it.

// Bytes of the buffers generate() allocates for one batch (KV cache, activations, logits,
// indices): `sequences` sequences, `rows` prefill rows, `kv_positions` = sequences x (longest
// prompt + max(new tokens, 1)), logits of `logit_rows` rows, plus a [sequences, vocab] copy when
// the prompt logits are kept.
std::uint64_t batch_device_bytes(const ModelSpec& spec, std::int64_t sequences, std::int64_t rows,
                                 std::int64_t kv_positions, std::int64_t logit_rows, bool prompt_logits);
// Bytes of the buffers encode() allocates for one batch: `sequences` sequences, `rows` rows of the
// pass (the real tokens, or sequences x max_len padded), the padded layout's [heads, max_len,
// max_len] scores, `out_rows` gathered rows and, with a head of `head_width` outputs (0: none),
// its workspace and output. EncodeResult::stats.batch_buffer_bytes is this sum, measured.
std::uint64_t encode_device_bytes(const ModelSpec& spec, std::int64_t sequences, std::int64_t rows, std::int64_t max_len,
                                  bool padded, std::int64_t out_rows, int head_width);
// The part of the CUDA reserve that holds the largest batch of EngineConfig (max_batch_tokens,
// max_sequences), without prompt logits; for an encoder, what encode() needs for that batch.
std::uint64_t batch_reserve_bytes(const ModelSpec& spec, int max_batch_tokens, int max_sequences);

// The planner's budget (runtime/budget.cpp): cfg.budget resolved against `model_bytes` (UINT64_MAX
// when unset) and capped at what the device `mem` can hold, with a note in `notes` when capped.
// CUDA: a percentage gets `reserved` on top; the cap is the free memory or --gpu-mem-limit
// (docs/cuda.md). CPU: the cap is the available RAM less kCpuHeadroomBytes.
inline constexpr std::uint64_t kCpuHeadroomBytes = 2ull << 30;
std::uint64_t device_budget(const EngineConfig& cfg, const DeviceMemoryInfo& mem, std::uint64_t model_bytes,
                            std::uint64_t reserved, std::vector<std::string>& notes);

}  // namespace ferry
