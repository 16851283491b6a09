// libFuzzer target: a GGUF file, opened as `ferry run -m FILE.gguf` opens it: the parser
// (GgufFile), then the LLaMA spec, the tokenizer data, and every tensor of a known type
// dequantized from the mapping (small ones only, so one input stays cheap).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "models/gguf.h"

using namespace ferry;

namespace {

// What GgufFile promises: every tensor's bytes lie inside the file and overlap no other's, and a
// tensor of a type ferry reads holds whole blocks.
void check_tensors(const GgufFile& f, std::size_t size) {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
  for (const GgufTensor& t : f.tensors()) {
    FERRY_FUZZ_REQUIRE(f.find_tensor(t.name) != nullptr);
    FERRY_FUZZ_REQUIRE(t.offset <= size && t.bytes <= size - t.offset);
    ranges.emplace_back(t.offset, t.offset + t.bytes);
    std::uint64_t be = 0, bb = 0;
    if (!ggml_block(t.type, be, bb)) continue;
    FERRY_FUZZ_REQUIRE(be > 0 && t.elements() % be == 0 && t.elements() / be * bb == t.bytes);
    if (t.elements() > (1u << 16)) continue;
    std::vector<float> out(static_cast<std::size_t>(t.elements()));
    dequantize(t.type, f.tensor_data(t), out.data(), t.elements());
  }
  std::sort(ranges.begin(), ranges.end());
  for (std::size_t i = 1; i < ranges.size(); ++i)
    FERRY_FUZZ_REQUIRE(ranges[i - 1].second <= ranges[i].first || ranges[i - 1].first == ranges[i - 1].second);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = fuzz::write_scratch("model.gguf", {reinterpret_cast<const char*>(data), size});
  fuzz::expect_typed_errors_only([&] {
    const GgufFile f(path);
    check_tensors(f, size);
  });
  fuzz::expect_typed_errors_only([&] {
    const ModelSpec spec = gguf_model_spec(path);
    FERRY_FUZZ_REQUIRE(spec.num_layers > 0 && spec.hidden_size > 0);
  });
  fuzz::expect_typed_errors_only([&] { (void)gguf_tokenizer_data(path); });
  return 0;
}
