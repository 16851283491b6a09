// `ferry classify`: the classification heads of an encoder checkpoint: sequence classification
// (a label per input), token classification (a label per token) and extractive question answering
// (the best answer span of --context for --question). The checkpoint's head decides which.
#include <algorithm>
#include <cstdio>
#include <memory>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "models/family.h"
#include "tools/encoder_cli.h"
#include "tools/model_tokenizer.h"

namespace ferry::cli {
namespace {

struct ClassifyFlags {
  EncoderFlags in;
  int k = 3;
  std::string question, context;
  int max_answer = 30;
};

// The inputs through the checkpoint's head `h`.
EncodeResult run_head(Engine& engine, const EncoderInputs& in, EncoderHead h) {
  EncodeRequest req;
  req.prompts = in.ids;
  req.head = h;
  return engine.encode(req);
}

void sequence_classes(const ClassifyFlags& f, const EncoderInputs& in, Engine& engine) {
  const EncodeResult r = run_head(engine, in, EncoderHead::SequenceClassifier);
  nlohmann::json j = nlohmann::json::array();
  for (std::int64_t i = 0; i < r.rows; ++i) {
    const std::vector<double> p = softmax(r.values.data() + i * r.width, r.width);
    std::vector<int> order(p.size());
    for (std::size_t c = 0; c < order.size(); ++c) order[c] = static_cast<int>(c);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return p[static_cast<std::size_t>(a)] > p[static_cast<std::size_t>(b)]; });
    nlohmann::json labels = nlohmann::json::array();
    if (!f.in.json) std::printf("input %lld: %s\n", static_cast<long long>(i + 1), in.texts[static_cast<std::size_t>(i)].substr(0, 70).c_str());
    for (int c = 0; c < std::min<int>(f.k, r.width); ++c) {
      const std::size_t id = static_cast<std::size_t>(order[static_cast<std::size_t>(c)]);
      if (f.in.json) labels.push_back({{"label", in.spec.labels[id]}, {"id", id}, {"score", p[id]}});
      else std::printf("  %-20s %.4f\n", in.spec.labels[id].c_str(), p[id]);
    }
    if (f.in.json) j.push_back({{"input", i}, {"labels", labels}});
  }
  if (f.in.json) print_encode_json({{"sequences", j}}, engine, r.stats, r.activation_bytes);
  else if (!f.in.engine.quiet) print_encode_stats(engine, r.stats, r.activation_bytes, stderr);
}

void token_classes(const ClassifyFlags& f, const EncoderInputs& in, Engine& engine) {
  const EncodeResult r = run_head(engine, in, EncoderHead::TokenClassifier);
  nlohmann::json j = nlohmann::json::array();
  std::int64_t row = 0;
  for (std::size_t i = 0; i < in.ids.size(); ++i) {
    nlohmann::json toks = nlohmann::json::array();
    if (!f.in.json) std::printf("input %zu:\n", i + 1);
    for (std::size_t t = 0; t < in.ids[i].size(); ++t, ++row) {
      const std::vector<double> p = softmax(r.values.data() + row * r.width, r.width);
      const std::size_t best = static_cast<std::size_t>(std::max_element(p.begin(), p.end()) - p.begin());
      const std::string tok = token_display(in.tokenizer, in.ids[i][t]);
      if (f.in.json) toks.push_back({{"id", in.ids[i][t]}, {"token", tok}, {"label", in.spec.labels[best]}, {"score", p[best]}});
      else std::printf("  %-16s %-12s %.4f\n", tok.c_str(), in.spec.labels[best].c_str(), p[best]);
    }
    if (f.in.json) j.push_back({{"input", i}, {"tokens", toks}});
  }
  if (f.in.json) print_encode_json({{"sequences", j}}, engine, r.stats, r.activation_bytes);
  else if (!f.in.engine.quiet) print_encode_stats(engine, r.stats, r.activation_bytes, stderr);
}

struct Span {
  std::size_t start = 0, end = 0;
  double score = -1;
};

// The best span of context tokens: start <= end < start + max_len, scored by the product of the
// start and end probabilities (softmax over the context tokens), as Hugging Face's QA pipeline does.
Span best_span(const EncodeResult& r, const std::vector<std::int32_t>& types, std::size_t last, int max_len) {
  std::vector<float> start, end;
  std::vector<std::size_t> where;
  for (std::size_t t = 0; t < last; ++t)
    if (types[t] == 1) {
      where.push_back(t);
      start.push_back(r.values[t * 2]);
      end.push_back(r.values[t * 2 + 1]);
    }
  const std::vector<double> ps = softmax(start.data(), static_cast<int>(start.size()));
  const std::vector<double> pe = softmax(end.data(), static_cast<int>(end.size()));
  Span best;
  for (std::size_t a = 0; a < where.size(); ++a)
    for (std::size_t b = a; b < where.size() && b < a + static_cast<std::size_t>(max_len); ++b)
      if (ps[a] * pe[b] > best.score) best = {where[a], where[b], ps[a] * pe[b]};
  return best;
}

void answer(const ClassifyFlags& f, const ModelSpec& spec) {
  if (f.question.empty() || f.context.empty()) throw BadInput("classify: question answering needs both --question and --context");
  if (!f.in.prompt.empty() || !f.in.prompt_file.empty() || f.in.ids)
    throw BadInput("classify: --question/--context replace --prompt, --prompt-file and --ids");
  if (f.max_answer < 1) throw BadInput("--max-answer-tokens: must be >= 1");
  const std::optional<Tokenizer> tok = model_tokenizer(spec);
  if (!tok) throw_no_tokenizer(spec, "--question");
  std::vector<std::int32_t> types;
  const std::vector<std::int32_t> ids = tok->encode_pair(f.question, f.context, &types);
  std::unique_ptr<Engine> engine = make_encoder_engine(spec, f.in);
  EncodeRequest req;
  req.prompts = {ids};
  req.types = {types};
  req.head = EncoderHead::SpanQa;
  const EncodeResult r = engine->encode(req);
  const Span s = best_span(r, types, ids.size() - 1, f.max_answer);  // the last id is the closing [SEP]
  if (s.score < 0) throw BadInput("classify: --context has no tokens");
  const std::string text = tok->decode(std::vector<std::int32_t>(ids.begin() + static_cast<std::ptrdiff_t>(s.start),
                                                                 ids.begin() + static_cast<std::ptrdiff_t>(s.end) + 1));
  if (f.in.json) {
    print_encode_json({{"answer", text}, {"score", s.score}, {"start_token", s.start}, {"end_token", s.end}}, *engine,
                      r.stats, r.activation_bytes);
    return;
  }
  std::printf("answer: %s\nscore: %.4f (tokens %zu..%zu)\n", text.c_str(), s.score, s.start, s.end);
  if (!f.in.engine.quiet) print_encode_stats(*engine, r.stats, r.activation_bytes, stderr);
}

void run(const ClassifyFlags& f) {
  if (f.k < 1) throw BadInput("-k: must be >= 1, got " + std::to_string(f.k));
  const bool qa_flags = !f.question.empty() || !f.context.empty();
  if (qa_flags) {
    const ModelSpec spec = load_model_spec(f.in.model);
    model_family(spec).check_head(spec, EncoderHead::SpanQa);
    return answer(f, spec);
  }
  const EncoderInputs in = read_encoder_inputs(f.in, "classify");
  using Head = void (*)(const ClassifyFlags&, const EncoderInputs&, Engine&);
  const Head head = in.spec.head == "sequence_classification" ? sequence_classes
                    : in.spec.head == "token_classification"  ? token_classes
                                                              : nullptr;
  if (head) {
    const std::unique_ptr<Engine> engine = make_encoder_engine(in.spec, f.in);
    return head(f, in, *engine);
  }
  const ModelFamily& family = model_family(in.spec);
  if (in.spec.head == "question_answering") throw BadInput("classify: model " + in.spec.name + " answers questions: give --question and --context");
  family.check_head(in.spec, EncoderHead::SequenceClassifier);  // names what is missing
}

}  // namespace

void register_classify(CLI::App& app) {
  auto f = std::make_shared<ClassifyFlags>();
  CLI::App* sub = app.add_subcommand(
      "classify",
      "Runs the checkpoint's classification head: BertForSequenceClassification (the -k most likely\n"
      "labels of each input, from config.json's id2label), BertForTokenClassification (a label per\n"
      "token) or BertForQuestionAnswering (the answer span of --context for --question).\n"
      "Example: ferry classify -m sst2-bert --prompt \"a gripping, beautiful film\"\n"
      "         ferry classify -m squad-bert --question \"Who wrote it?\" --context \"It was written by ...\"");
  add_encoder_flags(*sub, f->in, "text");
  sub->add_option("-k,--top-k", f->k, "Sequence classification: labels shown per input")->capture_default_str();
  sub->add_option("--question", f->question, "Question answering: the question");
  sub->add_option("--context", f->context, "Question answering: the text that holds the answer");
  sub->add_option("--max-answer-tokens", f->max_answer, "Question answering: longest answer span, in tokens")
      ->capture_default_str();
  sub->callback([f, sub] {
    f->in.given = given_flags(*sub);
    run(*f);
  });
}

}  // namespace ferry::cli
