// Helpers shared by the runtime and CLI tests: temp dirs, running the ferry binary, tiny models,
// and a minimal hand-written safetensors writer (independent of models/safetensors.cpp on purpose,
// so reader bugs are not mirrored by the writer used to test them).
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace ferry::test {

std::filesystem::path temp_dir(const std::string& tag);  // fresh, unique, under the system temp dir
void write_text(const std::filesystem::path& p, const std::string& text);
std::string read_text(const std::filesystem::path& p);

// 'path' for a shell command line (paths here never hold a quote).
std::string shell_quote(const std::filesystem::path& p);

struct CmdResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};
// Runs FERRY_BINARY with the given argument string (shell-quoted by the caller).
CmdResult run_ferry(const std::string& args);

// TOML of a tiny random GPT-2: vocab 101, ctx 32, hidden 96, 3 heads, `layers` layers.
std::string tiny_toml(int layers = 3, std::uint64_t seed = 7, const std::string& extra_model_keys = "");

struct RawTensor {
  std::string dtype;             // "F32", "F16", "I64", ...
  std::vector<std::int64_t> shape;
  std::vector<std::uint8_t> data;
};
// Writes a safetensors file with tensors in map order; `mutate_header` may edit the JSON text.
void write_safetensors_raw(const std::filesystem::path& p, const std::map<std::string, RawTensor>& tensors,
                           const std::string& header_override = "");
// A zero-filled F32 tensor.
RawTensor zeros_f32(std::vector<std::int64_t> shape);
// config.json for the tiny model (model_type gpt2).
std::string tiny_hf_config(int layers = 3);
// Every tensor of the tiny model as zero F32 tensors with Hugging Face names and shapes.
std::map<std::string, RawTensor> tiny_hf_tensors(int layers = 3);

}  // namespace ferry::test
