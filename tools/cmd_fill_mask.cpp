// `ferry fill-mask`: the masked-LM head's most likely tokens for every [MASK] of the inputs.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <numeric>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "models/family.h"
#include "tools/encoder_cli.h"

namespace ferry::cli {
namespace {

struct FillMaskFlags {
  EncoderFlags in;
  int k = 5;
};

struct Mask {
  std::size_t input;  // which input
  std::size_t token;  // its position in that input
};

// The k best of one row of logits: (id, probability), most likely first.
std::vector<std::pair<std::int32_t, double>> top_k(const float* logits, int V, int k) {
  const std::vector<double> p = softmax(logits, V);
  std::vector<std::int32_t> order(static_cast<std::size_t>(V));
  std::iota(order.begin(), order.end(), 0);
  const std::size_t n = static_cast<std::size_t>(std::min(k, V));
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), order.end(),
                    [&](std::int32_t a, std::int32_t b) { return p[static_cast<std::size_t>(a)] > p[static_cast<std::size_t>(b)]; });
  std::vector<std::pair<std::int32_t, double>> best;
  for (std::size_t i = 0; i < n; ++i) best.emplace_back(order[i], p[static_cast<std::size_t>(order[i])]);
  return best;
}

void run(const FillMaskFlags& f) {
  if (f.k < 1) throw BadInput("-k: must be >= 1, got " + std::to_string(f.k));
  const EncoderInputs in = read_encoder_inputs(f.in, "fill-mask");
  model_family(in.spec).check_head(in.spec, EncoderHead::MaskedLm);  // before the tokenizer: the head is what is missing
  const std::int32_t mask_id = in.tokenizer ? in.tokenizer->token_id("[MASK]") : -1;
  if (mask_id < 0) throw BadInput("fill-mask: model " + in.spec.name + " has no [MASK] token in its tokenizer");
  EncodeRequest req;
  req.prompts = in.ids;
  req.head = EncoderHead::MaskedLm;
  std::vector<Mask> masks;
  std::int64_t row = 0;
  for (std::size_t i = 0; i < in.ids.size(); ++i)
    for (std::size_t t = 0; t < in.ids[i].size(); ++t, ++row)
      if (in.ids[i][t] == mask_id) {
        masks.push_back({i, t});
        req.rows.push_back(row);
      }
  if (masks.empty()) throw BadInput("fill-mask: no [MASK] token in the input (write [MASK] where a word is missing)");
  std::unique_ptr<Engine> engine = make_encoder_engine(in.spec, f.in);
  const EncodeResult r = engine->encode(req);
  nlohmann::json j = nlohmann::json::array();
  for (std::size_t m = 0; m < masks.size(); ++m) {
    const auto best = top_k(r.values.data() + static_cast<std::int64_t>(m) * r.width, r.width, f.k);
    if (!f.in.json)
      std::printf("input %zu, token %zu ([MASK]):\n", masks[m].input + 1, masks[m].token);
    nlohmann::json cands = nlohmann::json::array();
    for (std::size_t c = 0; c < best.size(); ++c) {
      std::vector<std::int32_t> filled = in.ids[masks[m].input];
      filled[masks[m].token] = best[c].first;
      // The sentence without [CLS] / [SEP] (the first and last ids the tokenizer added).
      const std::vector<std::int32_t> body(filled.begin() + (f.in.ids ? 0 : 1), filled.end() - (f.in.ids ? 0 : 1));
      const std::string sentence = in.tokenizer->decode(body);
      const std::string token = token_display(in.tokenizer, best[c].first);
      if (f.in.json) {
        cands.push_back({{"id", best[c].first}, {"token", token}, {"score", best[c].second}, {"sequence", sentence}});
      } else {
        std::printf("  %2zu. %-16s %.4f  %s\n", c + 1, token.c_str(), best[c].second, sentence.c_str());
      }
    }
    if (f.in.json)
      j.push_back({{"input", masks[m].input}, {"token", masks[m].token}, {"candidates", cands}});
  }
  if (f.in.json) {
    print_encode_json({{"masks", j}}, *engine, r.stats, r.activation_bytes);
  } else if (!f.in.engine.quiet) {
    print_encode_stats(*engine, r.stats, r.activation_bytes, stderr);
  }
}

}  // namespace

void register_fill_mask(CLI::App& app) {
  auto f = std::make_shared<FillMaskFlags>();
  CLI::App* sub = app.add_subcommand(
      "fill-mask",
      "The masked-LM head's -k most likely tokens, with their probabilities, for every [MASK] of the\n"
      "inputs (a BertForMaskedLM checkpoint).\n"
      "Example: ferry fill-mask -m bert-base-uncased --prompt \"Paris is the [MASK] of France.\" -k 5");
  add_encoder_flags(*sub, f->in, "text with [MASK] tokens");
  sub->add_option("-k,--top-k", f->k, "Candidates per [MASK]")->capture_default_str();
  sub->callback([f, sub] {
    f->in.given = given_flags(*sub);
    run(*f);
  });
}

}  // namespace ferry::cli
