// GGUF files (llama.cpp's format, spec: ggml's docs/gguf.md): the header, every metadata value type,
// tensor infos and the aligned data section, read from a read-only mapping that stays open while
// weights are read. A LLaMA-architecture file becomes a ModelSpec (family llama), a WeightSource
// that answers Hugging Face names (dequantized, Q/K rows restored to Hugging Face's order) and the
// tokenizer's TokenizerData. Every malformed input is a one-line BadInput naming the file.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "memory/mapped_file.h"
#include "models/model_spec.h"
#include "models/tokenizer_data.h"
#include "models/weights.h"

namespace ferry {

// A metadata value: scalars widened (integers to int64 / uint64, floats to double), strings, and
// arrays of them (nested arrays are kept as arrays of values).
struct GgufValue {
  std::uint32_t type = 0;  // the GGUF value type (0 uint8 ... 12 float64)
  std::variant<std::int64_t, std::uint64_t, double, bool, std::string, std::vector<GgufValue>> v;
  const char* type_name() const;
};

struct GgufTensor {
  std::string name;
  std::vector<std::uint64_t> ne;  // ne[0] is the innermost (contiguous) dimension
  std::uint32_t type = 0;         // ggml type
  std::uint64_t offset = 0;       // from the start of the data section
  std::uint64_t bytes = 0;
  std::uint64_t elements() const;
};

class GgufFile {
 public:
  explicit GgufFile(const std::string& path);  // BadInput for anything malformed
  const std::string& path() const { return path_; }
  std::uint32_t version() const { return version_; }
  const std::map<std::string, GgufValue>& metadata() const { return meta_; }
  const std::vector<GgufTensor>& tensors() const { return tensors_; }
  const GgufTensor* find_tensor(const std::string& name) const;
  const std::byte* tensor_data(const GgufTensor& t) const { return file_.data() + data_start_ + t.offset; }

  bool has(const std::string& key) const { return meta_.count(key) != 0; }
  // Typed getters: BadInput "FILE: metadata key 'K' is missing" / "... has type T, expected U".
  std::uint64_t get_uint(const std::string& key) const;  // any non-negative integer type
  double get_float(const std::string& key) const;        // float32 / float64 (or an integer)
  bool get_bool(const std::string& key) const;
  const std::string& get_string(const std::string& key) const;
  const std::vector<GgufValue>& get_array(const std::string& key) const;
  [[noreturn]] void bad(const std::string& msg) const;

 private:
  const GgufValue& get(const std::string& key) const;
  std::string path_;
  MappedFile file_;
  std::uint32_t version_ = 0;
  std::uint64_t data_start_ = 0;
  std::map<std::string, GgufValue> meta_;
  std::vector<GgufTensor> tensors_;
};

bool is_gguf_path(const std::string& path);  // a regular file that starts with the GGUF magic
ModelSpec gguf_model_spec(const std::string& path);
std::unique_ptr<WeightSource> open_gguf_weights(const std::string& path);
TokenizerData gguf_tokenizer_data(const std::string& path);

// ggml tensor types ferry reads, and their blocks (models/gguf_quant.cpp).
const char* ggml_type_name(std::uint32_t type);  // nullptr when unknown
// Elements per block and bytes per block; false for a type ferry does not read.
bool ggml_block(std::uint32_t type, std::uint64_t& block_elems, std::uint64_t& block_bytes);
// Dequantizes n elements (a multiple of the block size) of `type` into f32.
void dequantize(std::uint32_t type, const std::byte* src, float* dst, std::uint64_t n);

}  // namespace ferry
