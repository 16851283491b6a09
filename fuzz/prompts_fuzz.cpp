// libFuzzer target: a prompt file, read as `ferry run --prompt-file F --ids` reads it
// (read_prompt_ids_file).
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/fuzz_util.h"
#include "runtime/prompts.h"

using namespace ferry;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = fuzz::write_scratch("prompts.txt", {reinterpret_cast<const char*>(data), size});
  fuzz::expect_typed_errors_only([&] {
    const auto seqs = read_prompt_ids_file(path);
    // What the header promises: at least one sequence, none empty, no negative id.
    FERRY_FUZZ_REQUIRE(!seqs.empty());
    for (const auto& s : seqs) {
      FERRY_FUZZ_REQUIRE(!s.empty());
      for (const std::int32_t id : s) FERRY_FUZZ_REQUIRE(id >= 0);
    }
  });
  return 0;
}
