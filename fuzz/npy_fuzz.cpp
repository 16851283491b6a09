// libFuzzer target: a .npy file, read as the golden tests and `--logits-out` readers read it
// (read_npy_f32).
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/fuzz_util.h"
#include "models/npy.h"

using namespace ferry;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = fuzz::write_scratch("a.npy", {reinterpret_cast<const char*>(data), size});
  fuzz::expect_typed_errors_only([&] {
    const NpyF32 a = read_npy_f32(path);
    // The data came from the file: never more floats than the file has bytes / 4.
    FERRY_FUZZ_REQUIRE(a.rows >= 0 && a.cols >= 0);
    FERRY_FUZZ_REQUIRE(a.data.size() * sizeof(float) <= size);
    FERRY_FUZZ_REQUIRE(static_cast<std::uint64_t>(a.rows) * static_cast<std::uint64_t>(a.cols) == a.data.size());
  });
  return 0;
}
