// Greedy tokens from llama.cpp, for bench/llamacpp_bench.py's agreement check against ferry.
//
// Loads a GGUF with llama.cpp's public API (include/llama.h of the llama.cpp that the PyPI sdist
// llama-cpp-python vendors), evaluates the prompt token ids as one batch, then generates N tokens
// greedily (argmax of the last position's logits, the lowest id on a tie), one decode call each.
// Prints one JSON object on stdout: {"ids": [...], "margins": [...]}, margins[i] being the gap
// between the best and the second-best logit at step i (a small gap is a near tie, where two
// engines' rounding may pick different tokens). llama.cpp's log goes to stderr only with -v.
// --logits-out F writes the logits of the last prompt position (step 0) as raw float32 [n_vocab].
//
// Built by bench/llamacpp_bench.py against the static libraries of its cached llama.cpp build:
//   g++ -std=c++17 -O2 llamacpp_greedy.cpp -I SRC/include -I SRC/ggml/include \
//       libllama.a libggml.a libggml-cpu.a libggml-base.a -fopenmp -lpthread -o llamacpp-greedy
// Usage: llamacpp-greedy [-v] [--logits-out F] MODEL.gguf N_GEN THREADS ID [ID ...]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "llama.h"

namespace {

bool g_verbose = false;

void log_cb(ggml_log_level level, const char* text, void*) {
  if (g_verbose || level == GGML_LOG_LEVEL_ERROR) std::fputs(text, stderr);
}

int fail(const std::string& msg) {
  std::fprintf(stderr, "llamacpp-greedy: %s\n", msg.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  int a = 1;
  const char* logits_out = nullptr;
  for (;;) {
    if (a < argc && std::strcmp(argv[a], "-v") == 0) {
      g_verbose = true;
      ++a;
    } else if (a + 1 < argc && std::strcmp(argv[a], "--logits-out") == 0) {
      logits_out = argv[a + 1];
      a += 2;
    } else {
      break;
    }
  }
  if (argc - a < 4) return fail("usage: llamacpp-greedy [-v] [--logits-out F] MODEL.gguf N_GEN THREADS ID [ID ...]");
  const char* path = argv[a];
  const int n_gen = std::atoi(argv[a + 1]);
  const int threads = std::atoi(argv[a + 2]);
  std::vector<llama_token> prompt;
  for (int i = a + 3; i < argc; ++i) prompt.push_back(static_cast<llama_token>(std::atol(argv[i])));
  if (n_gen < 1 || threads < 1) return fail("N_GEN and THREADS must be >= 1");

  llama_log_set(log_cb, nullptr);
  llama_backend_init();

  llama_model_params mp = llama_model_default_params();
  mp.n_gpu_layers = 0;
  llama_model* model = llama_model_load_from_file(path, mp);
  if (!model) return fail(std::string(path) + ": llama.cpp could not load the model");
  const llama_vocab* vocab = llama_model_get_vocab(model);
  const int n_vocab = llama_vocab_n_tokens(vocab);
  for (llama_token t : prompt)
    if (t < 0 || t >= n_vocab) return fail("token id " + std::to_string(t) + " is outside the vocabulary (" +
                                           std::to_string(n_vocab) + ")");

  llama_context_params cp = llama_context_default_params();
  const int n_ctx = static_cast<int>(prompt.size()) + n_gen + 16;
  cp.n_ctx = static_cast<uint32_t>(n_ctx);
  cp.n_batch = static_cast<uint32_t>(prompt.size() > 512 ? prompt.size() : 512);
  cp.n_ubatch = cp.n_batch;
  cp.n_seq_max = 1;
  cp.n_threads = threads;
  cp.n_threads_batch = threads;
  cp.no_perf = true;
  llama_context* ctx = llama_init_from_model(model, cp);
  if (!ctx) return fail("llama.cpp could not create a context");

  std::vector<llama_token> out;
  std::vector<float> margins;
  std::vector<llama_token> cur = prompt;
  for (int step = 0; step < n_gen; ++step) {
    // llama_batch_get_one: sequence 0, positions continue from the KV cache, logits of the last token only.
    llama_batch batch = llama_batch_get_one(cur.data(), static_cast<int32_t>(cur.size()));
    if (const int rc = llama_decode(ctx, batch); rc != 0) return fail("llama_decode returned " + std::to_string(rc));
    const float* logits = llama_get_logits_ith(ctx, -1);
    if (!logits) return fail("no logits");
    if (step == 0 && logits_out) {
      std::FILE* f = std::fopen(logits_out, "wb");
      if (!f || std::fwrite(logits, sizeof(float), static_cast<std::size_t>(n_vocab), f) != static_cast<std::size_t>(n_vocab) ||
          std::fclose(f) != 0)
        return fail(std::string(logits_out) + ": cannot write");
    }
    int best = 0;
    for (int v = 1; v < n_vocab; ++v)
      if (logits[v] > logits[best]) best = v;
    float second = -1e30f;
    for (int v = 0; v < n_vocab; ++v)
      if (v != best && logits[v] > second) second = logits[v];
    out.push_back(best);
    margins.push_back(logits[best] - second);
    cur.assign(1, best);
  }

  std::printf("{\"ids\": [");
  for (std::size_t i = 0; i < out.size(); ++i) std::printf("%s%d", i ? ", " : "", out[i]);
  std::printf("], \"margins\": [");
  for (std::size_t i = 0; i < margins.size(); ++i) std::printf("%s%.6g", i ? ", " : "", margins[i]);
  std::printf("]}\n");

  llama_free(ctx);
  llama_model_free(model);
  llama_backend_free();
  return 0;
}
