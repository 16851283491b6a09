// Engine: owns a Backend, a loaded model (its packs placed by policy), a Plan and a LayerPipeline;
// runs a nested batch of prompts through prefill and decode steps with a KV cache, and samples.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/backend.h"
#include "base/units.h"
#include "memory/layer_pack.h"
#include "memory/placement.h"
#include "memory/residency.h"
#include "models/model_spec.h"
#include "ops/ops.h"
#include "scheduler/pipeline.h"
#include "scheduler/planner.h"
#include "scheduler/timeline.h"

namespace ferry {

enum class Layout : std::uint8_t { Nested, Padded };
Layout parse_layout(const std::string& s, const std::string& what);
const char* layout_name(Layout l);

struct EngineConfig {
  DeviceKind device = DeviceKind::CPU;
  int device_index = 0;
  int threads = 0;                  // CPU: 0 = all cores
  Policy policy = Policy::Auto;
  BudgetSpec budget;                // unset = no limit; percentages are of the model's weight bytes
  int prefetch_depth = 1;
  int streams = 2;
  Layout layout = Layout::Nested;   // padded exists only for comparison
  std::string pack_dir = "/tmp";    // where the CPU mmap tiers keep their packed weights
  bool progress = true;             // progress bar on stderr while loading (only on a tty)
  bool trace = false;               // record a Timeline of every prefetch / compute / evict
};

struct GenerateRequest {
  std::vector<std::vector<std::int32_t>> prompts;  // token ids, one vector per sequence
  int max_new_tokens = 0;                          // 0 = prompt only
  ops::SamplingParams sampling;
  bool prompt_logits = false;                      // keep logits of every prompt token
};

struct SequenceResult {
  std::vector<std::int32_t> prompt_ids;
  std::vector<std::int32_t> generated_ids;
};

struct RunStats {
  double load_s = 0, prefill_s = 0, decode_s = 0;
  std::int64_t prompt_tokens = 0, generated_tokens = 0;
  int decode_steps = 0;
  double prefill_tokens_per_s = 0, decode_tokens_per_s = 0;
  std::uint64_t bytes_h2d = 0, bytes_d2h = 0;  // weight bytes moved between tiers in this run
  std::uint64_t budget = 0, peak_resident = 0, model_bytes = 0;
  std::uint64_t fetches = 0, evictions = 0;
};

struct GenerateResult {
  std::vector<SequenceResult> sequences;
  std::vector<float> prompt_logits;  // [total_prompt_tokens, vocab] in input order, when asked
  RunStats stats;
};

class Engine {
 public:
  // Validates the config, plans, places and loads the weights. Throws BadInput / ResourceExhausted.
  Engine(const ModelSpec& spec, const EngineConfig& cfg);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Throws BadInput for an empty batch, a token id >= vocab, or prompt + new tokens > context.
  GenerateResult generate(const GenerateRequest& req);

  const ModelSpec& spec() const { return spec_; }
  const Plan& plan() const { return plan_; }
  const Backend& backend() const { return *backend_; }
  const std::vector<PackLayout>& layouts() const { return layouts_; }
  Timeline* timeline() { return timeline_.get(); }
  double load_seconds() const { return load_s_; }
  std::string weights_description() const { return weights_desc_; }

 private:
  void load();
  ModelSpec spec_;
  EngineConfig cfg_;
  std::unique_ptr<Backend> backend_;
  std::vector<PackLayout> layouts_;
  Plan plan_;
  std::unique_ptr<Placement> placement_;
  std::unique_ptr<Residency> residency_;
  std::unique_ptr<Timeline> timeline_;
  std::unique_ptr<LayerPipeline> pipeline_;
  double load_s_ = 0;
  std::string weights_desc_;
};

// Per-pack sizes (PackLayout::bytes) of a model for a backend, without loading it.
std::vector<std::uint64_t> model_pack_bytes(const ModelSpec& spec, DeviceKind device);
DType weight_dtype_for(const ModelSpec& spec, DeviceKind device);  // CPU computes in f32

}  // namespace ferry
