// libFuzzer target: a model directory's tokenizer files, loaded as `ferry run -m DIR --prompt
// TEXT` loads them (Tokenizer::load), then a text encoded and decoded with them.
// Input layout (so that seeds stay readable):
//   'v' VOCAB_JSON '\0' MERGES_TXT '\0' TEXT   -> vocab.json + merges.txt
//   any other first byte, then TOKENIZER_JSON '\0' TEXT   -> tokenizer.json
// TEXT (at most kMaxText bytes) must survive decode(encode(TEXT)), as tokenizer.h promises.
#include <cstddef>
#include <cstdint>
#include <string>
#include <optional>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "models/tokenizer.h"

using namespace ferry;

namespace {

constexpr std::size_t kMaxText = 256;  // BPE is quadratic in a word's length: keep inputs fast

// The part of `rest` before the first NUL; `rest` keeps what follows it.
std::string_view take_until_nul(std::string_view& rest) {
  const std::size_t nul = rest.find('\0');
  const std::string_view part = rest.substr(0, nul);
  rest = nul == std::string_view::npos ? std::string_view() : rest.substr(nul + 1);
  return part;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string dir;
  if (data[0] == 'v') {
    fuzz::write_scratch("v/vocab.json", take_until_nul(rest));
    fuzz::write_scratch("v/merges.txt", take_until_nul(rest));
    dir = (fuzz::scratch_dir() / "v").string();
  } else {
    fuzz::write_scratch("j/tokenizer.json", take_until_nul(rest));
    dir = (fuzz::scratch_dir() / "j").string();
  }
  const std::string_view text = rest.substr(0, kMaxText);
  fuzz::expect_typed_errors_only([&] {
    const std::optional<Tokenizer> t = Tokenizer::load(dir);
    FERRY_FUZZ_REQUIRE(t.has_value());  // the files are there: never "no tokenizer"
    const std::vector<std::int32_t> ids = t->encode(text);
    for (const std::int32_t id : ids) FERRY_FUZZ_REQUIRE(t->has_id(id));
    FERRY_FUZZ_REQUIRE(t->decode(ids) == text);
  });
  return 0;
}
