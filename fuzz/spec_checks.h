// What a ModelSpec that parsed promises (models/model_spec.h), checked by the TOML and
// config.json targets: every dimension within its limit, and every size derived from them exact.
#pragma once
#include "base/checked.h"
#include "base/dtype.h"
#include "fuzz/fuzz_util.h"
#include "models/model_spec.h"

namespace ferry::fuzz {

inline void check_spec(const ModelSpec& s) {
  FERRY_FUZZ_REQUIRE(s.vocab_size > 0 && s.vocab_size <= kMaxVocabSize);
  FERRY_FUZZ_REQUIRE(s.context_length > 0 && s.context_length <= kMaxContextLength);
  FERRY_FUZZ_REQUIRE(s.hidden_size > 0 && s.hidden_size <= kMaxHiddenSize);
  FERRY_FUZZ_REQUIRE(s.num_layers > 0 && s.num_layers <= kMaxNumLayers);
  FERRY_FUZZ_REQUIRE(s.ffn_size > 0 && s.ffn_size <= kMaxFfnSize);
  FERRY_FUZZ_REQUIRE(s.num_heads > 0 && s.hidden_size % s.num_heads == 0 && s.head_dim() > 0);
  // parameter_count() throws BadInput on overflow; for a validated spec that would be a bug, and
  // since this runs inside expect_typed_errors_only it must not pass silently: catch it here.
  std::uint64_t params = 0;
  try {
    params = s.parameter_count();
  } catch (const BadInput&) {
    FERRY_FUZZ_REQUIRE(!"parameter_count() overflowed for a validated spec");
  }
  FERRY_FUZZ_REQUIRE(params > 0 && params < (std::uint64_t{1} << 52));
  const auto bytes = checked_mul(params, dtype_size(s.dtype));
  FERRY_FUZZ_REQUIRE(bytes.has_value());
  // The KV cache of one full-length sequence: layers * context * hidden * 2 (K and V) * 4 bytes.
  FERRY_FUZZ_REQUIRE(checked_product({static_cast<std::uint64_t>(s.num_layers),
                                      static_cast<std::uint64_t>(s.context_length),
                                      static_cast<std::uint64_t>(s.hidden_size), 2, 4})
                         .has_value());
}

}  // namespace ferry::fuzz
