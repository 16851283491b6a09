// `ferry embed`: sentence embeddings (or every token's hidden state) from an encoder, all inputs as
// one nested batch; pooling and normalization default to the sentence-transformers directory's.
#include <cmath>
#include <cstdio>
#include <memory>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "models/npy.h"
#include "models/sentence_transformers.h"
#include "runtime/embed.h"
#include "tools/encoder_cli.h"

namespace ferry::cli {
namespace {

struct EmbedFlags {
  EncoderFlags in;
  std::string pooling;  // empty: the directory's (modules.json), else mean
  bool normalize = false;
  std::string out;
};

struct Choice {
  Pooling pooling = Pooling::Mean;
  bool normalize = false;
  std::string why;  // where the choice came from
};

Choice choose(const EmbedFlags& f, const ModelSpec& spec) {
  Choice c;
  std::optional<SentenceTransformersConfig> st;
  if (!spec.weights.random && !spec.weights.path.empty()) st = read_sentence_transformers(spec.weights.path);
  if (!f.pooling.empty()) {
    c.pooling = parse_pooling(f.pooling, "--pooling");
    c.why = "--pooling";
  } else if (st) {
    c.pooling = parse_pooling(st->pooling, st->source);
    c.why = st->source;
  } else {
    c.why = "default";
  }
  c.normalize = f.normalize || (f.pooling.empty() && st && st->normalize);
  return c;
}

void print_summary(const EncoderInputs& in, const Embeddings& e, const Choice& c) {
  std::printf("%lld embeddings of width %d (pooling %s%s, from %s)\n", static_cast<long long>(e.rows), e.width,
              pooling_name(c.pooling), c.normalize ? ", normalized" : "", c.why.c_str());
  const bool per_input = c.pooling != Pooling::None;
  for (std::int64_t r = 0; r < e.rows && r < 16; ++r) {
    const float* v = e.values.data() + r * e.width;
    double ss = 0;
    for (int i = 0; i < e.width; ++i) ss += static_cast<double>(v[i]) * v[i];
    std::printf("  %3lld  norm %.4f  [%+.4f %+.4f %+.4f %+.4f ...]", static_cast<long long>(r), std::sqrt(ss), v[0],
                e.width > 1 ? v[1] : 0.f, e.width > 2 ? v[2] : 0.f, e.width > 3 ? v[3] : 0.f);
    if (per_input) std::printf("  %zu tokens  %s", in.ids[static_cast<std::size_t>(r)].size(), in.texts[static_cast<std::size_t>(r)].substr(0, 60).c_str());
    std::printf("\n");
  }
  if (e.rows > 16) std::printf("  ... %lld more (write them all with --out F.npy)\n", static_cast<long long>(e.rows - 16));
  if (!per_input || e.rows < 2 || e.rows > 16) return;
  std::printf("cosine similarity:\n      ");
  for (std::int64_t j = 0; j < e.rows; ++j) std::printf("%7lld", static_cast<long long>(j));
  std::printf("\n");
  const std::vector<double> cos = cosine_matrix(e.values, e.rows, e.width);
  for (std::int64_t i = 0; i < e.rows; ++i) {
    std::printf("  %3lld ", static_cast<long long>(i));
    for (std::int64_t j = 0; j < e.rows; ++j) std::printf(" %6.3f", cos[static_cast<std::size_t>(i * e.rows + j)]);
    std::printf("\n");
  }
}

void run(const EmbedFlags& f) {
  const EncoderInputs in = read_encoder_inputs(f.in, "embed");
  const Choice c = choose(f, in.spec);
  std::unique_ptr<Engine> engine = make_encoder_engine(in.spec, f.in);
  const Embeddings e = embed(*engine, in.ids, c.pooling, c.normalize);
  if (!f.out.empty()) write_npy_f32(f.out, e.values.data(), e.rows, e.width);
  if (f.in.json) {
    nlohmann::json j;
    j["pooling"] = pooling_name(c.pooling);
    j["normalize"] = c.normalize;
    j["width"] = e.width;
    j["rows"] = e.rows;
    j["inputs"] = nlohmann::json::array();
    for (const auto& ids : in.ids) j["inputs"].push_back({{"ids", ids}});
    if (f.out.empty()) {
      j["embeddings"] = nlohmann::json::array();
      for (std::int64_t r = 0; r < e.rows; ++r)
        j["embeddings"].push_back(std::vector<float>(e.values.begin() + r * e.width, e.values.begin() + (r + 1) * e.width));
    } else {
      j["out"] = f.out;
    }
    if (c.pooling != Pooling::None && e.rows >= 2) j["cosine"] = cosine_matrix(e.values, e.rows, e.width);
    print_encode_json(std::move(j), *engine, e.stats, e.activation_bytes);
    return;
  }
  if (f.out.empty()) print_summary(in, e, c);
  else std::printf("wrote %s: float32 [%lld, %d]\n", f.out.c_str(), static_cast<long long>(e.rows), e.width);
  if (!f.in.engine.quiet) print_encode_stats(*engine, e.stats, e.activation_bytes, stderr);
}

}  // namespace

void register_embed(CLI::App& app) {
  auto f = std::make_shared<EmbedFlags>();
  CLI::App* sub = app.add_subcommand(
      "embed",
      "Embeddings from an encoder (BERT, sentence-transformers): one per input line, all lines one nested\n"
      "batch (no padding). A sentence-transformers directory's modules.json sets the pooling and whether\n"
      "the embeddings are normalized; --pooling overrides it. Without --out, a summary and (for two or\n"
      "more inputs) their cosine similarity matrix are printed.\n"
      "Example: ferry embed -m all-MiniLM-L6-v2 --prompt-file sentences.txt --out emb.npy");
  add_encoder_flags(*sub, f->in, "text");
  sub->add_option("--pooling", f->pooling,
                  "mean (the tokens' mean), cls (the first token), pooler (BERT's pooler: tanh(dense(CLS))) or\n"
                  "none (every token's last hidden state, [total_tokens, hidden] in input order);\n"
                  "default: the sentence-transformers config, else mean");
  sub->add_flag("--normalize", f->normalize, "Scale each embedding to unit L2 norm (default: as modules.json says)");
  sub->add_option("--out", f->out, "Write the embeddings as float32 .npy [inputs, hidden] ([tokens, hidden] with --pooling none)");
  sub->callback([f, sub] {
    f->in.given = given_flags(*sub);
    run(*f);
  });
}

}  // namespace ferry::cli
