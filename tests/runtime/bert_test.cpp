// The BERT family end to end: tiny random checkpoints (hidden 45, 3 heads, 2 layers; one per head
// class) made by scripts/golden/make_bert_golden.py with Hugging Face transformers, an independent
// PyTorch implementation: last hidden states, the pooler and every head within 1e-4 relative in
// fp32; the padded layout (pads masked in the unfused attention) agrees with the nested one; every
// policy is bit-identical to resident; bad requests are BadInput.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/error.h"
#include "models/npy.h"
#include "models/family.h"
#include "runtime/engine.h"
#include "tests/support/test_util.h"

namespace {

const std::string kDir = std::string(FERRY_TEST_DATA) + "/bert/";

struct Case {
  std::string name;
  std::optional<ferry::EncoderHead> head;  // the checkpoint's head; nullopt = the pooler (BertModel)
};

const std::vector<Case> kCases{{"model", ferry::EncoderHead::Pooler},
                               {"masked_lm", ferry::EncoderHead::MaskedLm},
                               {"sequence_classification", ferry::EncoderHead::SequenceClassifier},
                               {"token_classification", ferry::EncoderHead::TokenClassifier},
                               {"question_answering", ferry::EncoderHead::SpanQa}};

ferry::EncodeRequest request(const std::string& name) {
  const auto g = nlohmann::json::parse(ferry::test::read_text(kDir + name + "/golden.json"));
  ferry::EncodeRequest r;
  r.prompts = g["ids"].get<std::vector<std::vector<std::int32_t>>>();
  r.types = g["types"].get<std::vector<std::vector<std::int32_t>>>();
  return r;
}

ferry::EncodeResult encode(const std::string& name, std::optional<ferry::EncoderHead> head,
                           ferry::EngineConfig cfg = {}) {
  cfg.progress = false;
  ferry::Engine engine(ferry::load_model_spec(kDir + name), cfg);
  ferry::EncodeRequest r = request(name);
  r.head = head;
  return engine.encode(r);
}

// max |got - want| <= rel * max |want|.
void expect_close(const std::vector<float>& got, const std::string& npy, double rel) {
  const ferry::NpyF32 ref = ferry::read_npy_f32(npy);
  ASSERT_EQ(got.size(), ref.data.size()) << npy;
  float max_ref = 0, max_err = 0;
  for (std::size_t i = 0; i < ref.data.size(); ++i) {
    max_ref = std::max(max_ref, std::fabs(ref.data[i]));
    max_err = std::max(max_err, std::fabs(ref.data[i] - got[i]));
  }
  EXPECT_GT(max_ref, 0.0f) << npy;
  EXPECT_LE(max_err, rel * max_ref) << npy << ": max abs error " << max_err << ", max |ref| " << max_ref;
}

TEST(Bert, LastHiddenStatesMatchTransformers) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    const ferry::EncodeResult r = encode(c.name, std::nullopt);
    EXPECT_EQ(r.rows, 15);
    EXPECT_EQ(r.width, 45);
    expect_close(r.values, kDir + c.name + "/hidden.npy", 1e-4);
  }
}

TEST(Bert, PoolerAndEveryHeadMatchTransformers) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    const ferry::EncodeResult r = encode(c.name, c.head);
    expect_close(r.values, kDir + c.name + (c.name == "model" ? "/pooled.npy" : "/head.npy"), 1e-4);
  }
}

TEST(Bert, PaddedLayoutAgreesWithNested) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    ferry::EngineConfig padded;
    padded.layout = ferry::Layout::Padded;
    const ferry::EncodeResult n = encode(c.name, std::nullopt), p = encode(c.name, std::nullopt, padded);
    ASSERT_EQ(n.values.size(), p.values.size());
    float max_err = 0;
    for (std::size_t i = 0; i < n.values.size(); ++i) max_err = std::max(max_err, std::fabs(n.values[i] - p.values[i]));
    EXPECT_LE(max_err, 1e-5f);
    // The padded pass holds the score matrices: more activation memory for the same batch.
    EXPECT_GT(p.activation_bytes, n.activation_bytes);
  }
}

TEST(Bert, EveryPolicyIsBitIdenticalToResident) {
  const ferry::EncodeResult resident = encode("masked_lm", ferry::EncoderHead::MaskedLm);
  for (ferry::Policy p : {ferry::Policy::UM, ferry::Policy::UMPrefetch, ferry::Policy::Stream, ferry::Policy::Auto})
    for (int depth : {1, 2}) {
      ferry::EngineConfig cfg;
      cfg.policy = p;
      cfg.prefetch_depth = depth;
      SCOPED_TRACE(std::string(ferry::policy_name(p)) + " depth " + std::to_string(depth));
      EXPECT_EQ(encode("masked_lm", ferry::EncoderHead::MaskedLm, cfg).values, resident.values);
    }
}

TEST(Bert, SelectedRowsAreThoseRowsOfTheFullResult) {
  const ferry::EncodeResult all = encode("token_classification", ferry::EncoderHead::TokenClassifier);
  ferry::EngineConfig cfg;
  cfg.progress = false;
  ferry::Engine engine(ferry::load_model_spec(kDir + "token_classification"), cfg);
  ferry::EncodeRequest r = request("token_classification");
  r.head = ferry::EncoderHead::TokenClassifier;
  r.rows = {14, 0, 6};
  const ferry::EncodeResult some = engine.encode(r);
  ASSERT_EQ(some.rows, 3);
  for (std::size_t k = 0; k < r.rows.size(); ++k)
    for (int j = 0; j < some.width; ++j)
      EXPECT_NEAR(some.values[k * some.width + j], all.values[r.rows[k] * all.width + j], 1e-5);
}

// encode_device_bytes (what the CUDA reserve check and the reserve itself count) is the sum of the
// buffers encode() really allocates, for every head, both layouts and chosen rows; and the reserve
// of an encoder covers its largest batch, in the padded layout too.
TEST(Bert, DeviceBytesMirrorTheBuffersOfAPass) {
  for (const Case& c : kCases) {
    for (ferry::Layout layout : {ferry::Layout::Nested, ferry::Layout::Padded}) {
      for (bool with_head : {false, true}) {
        SCOPED_TRACE(c.name + " " + ferry::layout_name(layout) + (with_head ? " head" : ""));
        ferry::EngineConfig cfg;
        cfg.progress = false;
        cfg.layout = layout;
        const ferry::ModelSpec spec = ferry::load_model_spec(kDir + c.name);
        ferry::Engine engine(spec, cfg);
        ferry::EncodeRequest r = request(c.name);
        if (with_head) r.head = c.head;
        r.rows = {3, 1, 14};  // as many as sequences: the masked-LM reserve holds max_sequences rows
        const ferry::EncodeResult got = engine.encode(r);
        std::int64_t total = 0;
        int longest = 0;
        for (const auto& p : r.prompts) {
          total += static_cast<std::int64_t>(p.size());
          longest = std::max(longest, static_cast<int>(p.size()));
        }
        const bool padded = layout == ferry::Layout::Padded;
        const std::int64_t B = static_cast<std::int64_t>(r.prompts.size());
        const std::int64_t rows = padded ? B * longest : total;
        const int W = with_head ? ferry::model_family(spec).head_width(spec, *c.head) : 0;
        EXPECT_EQ(got.stats.batch_buffer_bytes,
                  ferry::encode_device_bytes(spec, B, rows, longest, padded, got.rows, W));
        const std::uint64_t reserve = ferry::batch_reserve_bytes(spec, static_cast<int>(rows), static_cast<int>(B));
        EXPECT_GE(reserve, got.stats.batch_buffer_bytes) << "the reserve for this very batch must hold it";
      }
    }
  }
}

TEST(Bert, BadRequestsAreBadInput) {
  ferry::EngineConfig cfg;
  cfg.progress = false;
  ferry::Engine engine(ferry::load_model_spec(kDir + "model"), cfg);
  auto with = [&](auto edit) {
    ferry::EncodeRequest r = request("model");
    edit(r);
    return r;
  };
  EXPECT_THROW(engine.encode(with([](auto& r) { r.head = ferry::EncoderHead::MaskedLm; })), ferry::BadInput);
  EXPECT_THROW(engine.encode(with([](auto& r) { r.prompts[0][1] = 97; })), ferry::BadInput);  // id >= vocab
  EXPECT_THROW(engine.encode(with([](auto& r) { r.types[2][5] = 2; })), ferry::BadInput);     // type >= 2
  EXPECT_THROW(engine.encode(with([](auto& r) { r.prompts[1].assign(41, 5); r.types[1].assign(41, 0); })),
               ferry::BadInput);  // longer than max_position_embeddings 40
  EXPECT_THROW(engine.encode(with([](auto& r) { r.prompts[1].clear(); r.types[1].clear(); })), ferry::BadInput);
  EXPECT_THROW(engine.encode(with([](auto& r) { r.rows = {15}; })), ferry::BadInput);
  ferry::GenerateRequest g;
  g.prompts = {{2, 3}};
  EXPECT_THROW(engine.generate(g), ferry::BadInput);
}

}  // namespace
