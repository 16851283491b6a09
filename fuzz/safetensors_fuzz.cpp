// libFuzzer target: a .safetensors file, opened as the checkpoint loader opens it
// (SafetensorsFile::open), then every float tensor converted as loading converts it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "models/safetensors.h"

using namespace ferry;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = fuzz::write_scratch("model.safetensors", {reinterpret_cast<const char*>(data), size});
  fuzz::expect_typed_errors_only([&] {
    const SafetensorsFile f = SafetensorsFile::open(path);
    std::vector<float> f32;
    std::vector<std::uint16_t> bf16;
    for (const SafetensorsEntry& e : f.tensors()) {
      // What open() promises: names resolve, ranges lie inside the file, sizes match shapes.
      FERRY_FUZZ_REQUIRE(f.find(e.name) == &e);
      FERRY_FUZZ_REQUIRE(e.begin <= e.end && f.data_offset() + e.end <= size);
      const std::uint64_t esize = safetensors_dtype_size(e.dtype);
      FERRY_FUZZ_REQUIRE(esize > 0 && static_cast<std::uint64_t>(e.numel()) * esize == e.end - e.begin);
      if (e.dtype != "F32" && e.dtype != "F16" && e.dtype != "BF16") continue;
      const auto n = static_cast<std::size_t>(e.numel());
      f32.resize(n);
      f.read(e, DType::F32, f32.data());
      bf16.resize(n);
      f.read(e, DType::BF16, bf16.data());
    }
  });
  return 0;
}
