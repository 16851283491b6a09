// libFuzzer target: a Hugging Face directory's config.json, loaded as `ferry run -m DIR` loads it
// (load_model_spec -> parse_hf_config), then the sizes `inspect` prints computed from the result.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/fuzz_util.h"
#include "fuzz/spec_checks.h"
#include "models/model_spec.h"

using namespace ferry;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::write_scratch("hf/config.json", {reinterpret_cast<const char*>(data), size});
  const std::string dir = (fuzz::scratch_dir() / "hf").string();
  fuzz::expect_typed_errors_only([&] {
    const ModelSpec s = load_model_spec(dir);
    FERRY_FUZZ_REQUIRE(!s.weights.random && s.weights.path == dir);
    fuzz::check_spec(s);
  });
  return 0;
}
