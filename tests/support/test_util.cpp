#include "tests/support/test_util.h"

#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <sys/wait.h>

namespace ferry::test {

namespace fs = std::filesystem;

fs::path temp_dir(const std::string& tag) {
  static std::atomic<int> counter{0};
  fs::path p = fs::temp_directory_path() /
               ("ferry-test-" + tag + "-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream f(p, std::ios::binary);
  f << text;
}

std::string read_text(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string shell_quote(const fs::path& p) {
  std::string s = "'";
  s += p.string();
  s += "'";
  return s;
}

CmdResult run_ferry(const std::string& args) {
  const fs::path dir = temp_dir("cmd");
  const std::string cmd = std::string(FERRY_BINARY) + " " + args + " >" + (dir / "out").string() + " 2>" +
                          (dir / "err").string() + " </dev/null";
  const int status = std::system(cmd.c_str());
  CmdResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_text(dir / "out");
  r.err = read_text(dir / "err");
  fs::remove_all(dir);
  return r;
}

std::string tiny_toml(int layers, std::uint64_t seed, const std::string& extra_model_keys) {
  std::ostringstream s;
  s << "[model]\nname = \"tiny\"\nfamily = \"gpt2\"\nvocab_size = 101\ncontext_length = 32\n"
    << "hidden_size = 96\nnum_layers = " << layers << "\nnum_heads = 3\nffn_size = 384\n"
    << "activation = \"gelu_tanh\"\ndtype = \"f32\"\n"
    << extra_model_keys << "\n[weights]\nrandom = true\nseed = " << seed << "\n";
  return s.str();
}

void write_safetensors_raw(const fs::path& p, const std::map<std::string, RawTensor>& tensors,
                           const std::string& header_override) {
  nlohmann::json h = nlohmann::json::object();
  std::size_t off = 0;
  for (const auto& [name, t] : tensors) {
    h[name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {off, off + t.data.size()}}};
    off += t.data.size();
  }
  std::string header = header_override.empty() ? h.dump() : header_override;
  while (header.size() % 8) header += ' ';
  std::ofstream f(p, std::ios::binary);
  const std::uint64_t n = header.size();
  std::array<char, 8> len{};
  for (int i = 0; i < 8; ++i) len[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  f.write(len.data(), 8);
  f.write(header.data(), static_cast<std::streamsize>(header.size()));
  for (const auto& [name, t] : tensors)
    f.write(reinterpret_cast<const char*>(t.data.data()), static_cast<std::streamsize>(t.data.size()));
}

RawTensor zeros_f32(std::vector<std::int64_t> shape) {
  RawTensor t;
  t.dtype = "F32";
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  t.shape = std::move(shape);
  t.data.assign(static_cast<std::size_t>(n) * 4, 0);
  return t;
}

std::string tiny_hf_config(int layers) {
  nlohmann::json c = {{"model_type", "gpt2"}, {"n_embd", 96},       {"n_layer", layers},
                      {"n_head", 3},          {"n_positions", 32},  {"vocab_size", 101},
                      {"n_inner", nullptr},   {"layer_norm_epsilon", 1e-5}, {"activation_function", "gelu_new"},
                      {"torch_dtype", "float32"}};
  return c.dump(2);
}

std::map<std::string, RawTensor> tiny_hf_tensors(int layers) {
  const std::int64_t V = 101, C = 32, H = 96, F = 384;
  std::map<std::string, RawTensor> t;
  t["wte.weight"] = zeros_f32({V, H});
  t["wpe.weight"] = zeros_f32({C, H});
  t["ln_f.weight"] = zeros_f32({H});
  t["ln_f.bias"] = zeros_f32({H});
  for (int l = 0; l < layers; ++l) {
    const std::string p = "h." + std::to_string(l) + ".";
    t[p + "ln_1.weight"] = zeros_f32({H});
    t[p + "ln_1.bias"] = zeros_f32({H});
    t[p + "attn.c_attn.weight"] = zeros_f32({H, 3 * H});
    t[p + "attn.c_attn.bias"] = zeros_f32({3 * H});
    t[p + "attn.c_proj.weight"] = zeros_f32({H, H});
    t[p + "attn.c_proj.bias"] = zeros_f32({H});
    t[p + "ln_2.weight"] = zeros_f32({H});
    t[p + "ln_2.bias"] = zeros_f32({H});
    t[p + "mlp.c_fc.weight"] = zeros_f32({H, F});
    t[p + "mlp.c_fc.bias"] = zeros_f32({F});
    t[p + "mlp.c_proj.weight"] = zeros_f32({F, H});
    t[p + "mlp.c_proj.bias"] = zeros_f32({H});
  }
  return t;
}

}  // namespace ferry::test
