// libFuzzer target: a model TOML file, loaded as `ferry run -m FILE` / `ferry inspect -m FILE`
// load it (load_model_spec), then the sizes `inspect` prints computed from the result.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/fuzz_util.h"
#include "fuzz/spec_checks.h"
#include "models/model_spec.h"

using namespace ferry;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = fuzz::write_scratch("model.toml", {reinterpret_cast<const char*>(data), size});
  fuzz::expect_typed_errors_only([&] { fuzz::check_spec(load_model_spec(path)); });
  return 0;
}
