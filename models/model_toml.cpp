// Parsing of model descriptions in TOML (schema: docs/model-format.md) with TOML++.
//
// TOML++ is compiled into this file (header-only mode), never used from Debian's shared library,
// so that its internal checks are ours. TOML++ 3.3 guards its parser with TOML_ASSERT and
// TOML_ASSERT_ASSUME; input reaches some of them ("[." or "[\0" at a table header fails
// `is_bare_key_character(*cp) || is_string_delimiter(*cp)` in parse_key), and with NDEBUG the
// library turns TOML_ASSERT_ASSUME into __builtin_assume: undefined behaviour in Release builds,
// an abort in Debug ones. Here TOML_ASSERT throws (caught below as "invalid TOML", BadInput), and
// NDEBUG is hidden while the headers are read so the assumption form is never chosen. That covers
// every assertion, found by the fuzzer or not yet; validating the input instead would need a
// second TOML lexer to know where a table header starts, and would cover only the cases known.
// What an assertion cannot cover (a __builtin_unreachable in TOML++'s Unicode tables) is kept
// out by check_toml_bytes() below.
#include <stdexcept>

namespace ferry::toml_detail {
// Thrown by a failed TOML++ assertion; parse_model_toml_string turns it into BadInput.
struct AssertionFailed : std::logic_error {
  using std::logic_error::logic_error;
};
[[noreturn]] inline void assertion_failed(const char* expr) { throw AssertionFailed(expr); }
}  // namespace ferry::toml_detail

#pragma push_macro("NDEBUG")
#undef NDEBUG
#undef TOML_SHARED_LIB  // pkg-config's -DTOML_SHARED_LIB=1 would switch header-only mode off
#define TOML_SHARED_LIB 0
#undef TOML_HEADER_ONLY
#define TOML_HEADER_ONLY 1
#define TOML_ASSERT(expr) (static_cast<bool>(expr) ? void(0) : ::ferry::toml_detail::assertion_failed(#expr))
#include <toml++/toml.h>
#pragma pop_macro("NDEBUG")

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "base/error.h"
#include "models/model_spec.h"

namespace ferry {

namespace {

std::string at(const std::string& origin, const toml::source_region& r) {
  if (r.begin.line == 0) return origin;
  return origin + ":" + std::to_string(r.begin.line) + ":" + std::to_string(r.begin.column);
}

// Typed access to the keys of one table; remembers which keys were read so the rest can be
// reported as unknown.
class Table {
 public:
  Table(const toml::table& t, std::string prefix, const std::string& origin)
      : t_(t), prefix_(std::move(prefix)), origin_(origin) {}

  const toml::node* find(const char* key) {
    known_.emplace_back(key);
    return t_.get(key);
  }
  [[noreturn]] void type_error(const toml::node& n, const char* key, const char* expected) const {
    throw BadInput(at(origin_, n.source()) + ": " + prefix_ + key + ": expected " + expected);
  }
  [[noreturn]] void missing(const char* key) const {
    throw BadInput(origin_ + ": missing required key " + prefix_ + key);
  }

  bool get_int(const char* key, int& out, bool required) {
    const toml::node* n = find(key);
    if (!n) {
      if (required) missing(key);
      return false;
    }
    if (!n->is_integer()) type_error(*n, key, "an integer");
    const std::int64_t v = n->as_integer()->get();
    if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max())
      throw BadInput(at(origin_, n->source()) + ": " + prefix_ + key + ": value " + std::to_string(v) +
                     " out of range");
    out = static_cast<int>(v);
    return true;
  }
  bool get_u64(const char* key, std::uint64_t& out) {
    const toml::node* n = find(key);
    if (!n) return false;
    if (!n->is_integer()) type_error(*n, key, "an integer");
    const std::int64_t v = n->as_integer()->get();
    if (v < 0)
      throw BadInput(at(origin_, n->source()) + ": " + prefix_ + key + ": must be >= 0 (got " +
                     std::to_string(v) + ")");
    out = static_cast<std::uint64_t>(v);
    return true;
  }
  bool get_float(const char* key, float& out) {
    const toml::node* n = find(key);
    if (!n) return false;
    double v = 0;
    if (n->is_floating_point()) v = n->as_floating_point()->get();
    else if (n->is_integer()) v = static_cast<double>(n->as_integer()->get());
    else type_error(*n, key, "a number");
    // A double beyond float's range has no float value (the conversion is undefined behaviour).
    if (std::isfinite(v) && std::fabs(v) > static_cast<double>(std::numeric_limits<float>::max()))
      throw BadInput(at(origin_, n->source()) + ": " + prefix_ + key + ": value out of range for a float");
    out = static_cast<float>(v);
    return true;
  }
  bool get_bool(const char* key, bool& out) {
    const toml::node* n = find(key);
    if (!n) return false;
    if (!n->is_boolean()) type_error(*n, key, "true or false");
    out = n->as_boolean()->get();
    return true;
  }
  bool get_string(const char* key, std::string& out, const toml::node** node = nullptr) {
    const toml::node* n = find(key);
    if (!n) return false;
    if (!n->is_string()) type_error(*n, key, "a string");
    out = n->as_string()->get();
    if (node) *node = n;
    return true;
  }
  void reject_unknown() const {
    for (auto&& [k, v] : t_) {
      bool ok = false;
      for (const std::string& name : known_) ok = ok || name == k.str();
      if (!ok)
        throw BadInput(at(origin_, k.source()) + ": unknown key '" + prefix_ + std::string(k.str()) + "'");
    }
  }

 private:
  const toml::table& t_;
  std::string prefix_;
  const std::string& origin_;
  std::vector<std::string> known_;
};

const toml::table* subtable(const toml::table& root, const char* key, const std::string& origin) {
  const toml::node* n = root.get(key);
  if (!n) return nullptr;
  if (!n->is_table()) throw BadInput(at(origin, n->source()) + ": " + key + ": expected a table [" + key + "]");
  return n->as_table();
}

// Refuses, before TOML++ sees them:
//  * bytes >= 0x80: TOML++ 3.3's generated Unicode whitespace table reaches __builtin_unreachable
//    (not an assertion, so TOML_ASSERT cannot catch it) for U+00A1..U+03F9, e.g. "a=1\u00e9"
//    written raw, and in strings too (after a line-ending backslash). Non-ASCII text can still be
//    written in strings as \uXXXX escapes;
//  * control characters other than tab, LF and the CR of a CRLF: TOML 1.0 forbids them unescaped
//    everywhere (strings and comments included), so this refuses no valid document, and it names
//    the line and column where TOML++ would give a vaguer error (or, for "[\0", an assertion).
void check_toml_bytes(const std::string& text, const std::string& origin) {
  std::size_t line = 1, column = 1;
  const std::size_t start = text.rfind("\xef\xbb\xbf", 0) == 0 ? 3 : 0;  // a UTF-8 byte order mark is fine
  for (std::size_t i = start; i < text.size(); ++i, ++column) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      ++line;
      column = 0;
      continue;
    }
    const bool crlf = c == '\r' && i + 1 < text.size() && text[i + 1] == '\n';
    if ((c >= 0x20 && c < 0x7f) || c == '\t' || crlf) continue;
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02x", c);
    throw BadInput(origin + ":" + std::to_string(line) + ":" + std::to_string(column) + ": byte " + hex +
                   (c >= 0x80 ? " is not ASCII (write non-ASCII characters in strings as \\uXXXX escapes)"
                              : " is a control character, which TOML does not allow"));
  }
}

}  // namespace

ModelSpec parse_model_toml_string(const std::string& text, const std::string& origin, const std::string& base_dir) {
  check_toml_bytes(text, origin);
  toml::table root;
  try {
    root = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    throw BadInput(at(origin, e.source()) + ": invalid TOML: " + std::string(e.description()));
  } catch (const toml_detail::AssertionFailed& e) {
    throw BadInput(origin + ": invalid TOML (rejected by the parser's check " + e.what() + ")");
  }
  for (auto&& [k, v] : root)
    if (k.str() != "model" && k.str() != "weights")
      throw BadInput(at(origin, k.source()) + ": unknown key '" + std::string(k.str()) + "'");

  ModelSpec s;
  s.source = origin;
  const toml::table* model = subtable(root, "model", origin);
  if (!model) throw BadInput(origin + ": missing required table [model]");
  Table m(*model, "model.", origin);
  if (!m.get_string("name", s.name)) s.name = std::filesystem::path(origin).stem().string();
  m.get_string("family", s.family);
  m.get_int("vocab_size", s.vocab_size, true);
  m.get_int("context_length", s.context_length, true);
  m.get_int("hidden_size", s.hidden_size, true);
  m.get_int("num_layers", s.num_layers, true);
  m.get_int("num_heads", s.num_heads, true);
  // The default ffn_size is 4 * hidden_size, computed only for a hidden size in range (no int
  // overflow); otherwise validate() below names model.hidden_size and its limit.
  if (!m.get_int("ffn_size", s.ffn_size, false))
    s.ffn_size = s.hidden_size > 0 && s.hidden_size <= kMaxHiddenSize ? 4 * s.hidden_size : 1;
  const bool llama = s.family == "llama";
  if (llama) {  // the family's defaults (docs/model-format.md)
    s.norm = "rmsnorm";
    s.tied_embeddings = false;
  }
  m.get_string("norm", s.norm);
  m.get_float("norm_epsilon", s.norm_epsilon);
  std::string act;
  const toml::node* node = nullptr;
  if (m.get_string("activation", act, &node)) {
    if (llama && act == "silu") {
      // LLaMA's MLP is always SwiGLU (SiLU-gated); the key is accepted for clarity.
    } else if (!llama && act == "gelu_tanh") {
      s.activation = ops::Activation::GeluTanh;
    } else if (!llama && act == "gelu") {
      s.activation = ops::Activation::GeluErf;
    } else {
      throw BadInput(at(origin, node->source()) + ": model.activation: unknown activation '" + act + "' (expected " +
                     (llama ? "silu for family llama" : "gelu_tanh or gelu") + ")");
    }
  }
  m.get_bool("tied_embeddings", s.tied_embeddings);
  m.get_int("num_kv_heads", s.num_kv_heads, false);
  m.get_int("head_dim", s.head_dim_override, false);
  m.get_float("rope_theta", s.rope_theta);
  m.get_string("rope_scaling", s.rope_scaling);
  m.get_float("rope_factor", s.rope_factor);
  m.get_float("rope_low_freq_factor", s.rope_low_freq_factor);
  m.get_float("rope_high_freq_factor", s.rope_high_freq_factor);
  m.get_int("rope_original_context", s.rope_original_context, false);
  m.get_bool("attention_bias", s.attention_bias);
  m.get_float("embedding_multiplier", s.embedding_multiplier);
  m.get_float("residual_multiplier", s.residual_multiplier);
  m.get_float("attention_multiplier", s.attention_multiplier);
  m.get_float("logits_scaling", s.logits_scaling);
  m.get_int("type_vocab_size", s.type_vocab_size, false);
  m.get_string("head", s.head);
  int num_labels = 0;
  if (m.get_int("num_labels", num_labels, false)) {
    if (num_labels <= 0 || num_labels > 65536)
      throw BadInput(origin + ": model.num_labels: must be in 1 .. 65536 (got " + std::to_string(num_labels) + ")");
    for (int i = 0; i < num_labels; ++i) s.labels.push_back("LABEL_" + std::to_string(i));
  }
  std::string dt;
  if (m.get_string("dtype", dt, &node)) s.dtype = parse_dtype(dt, at(origin, node->source()) + ": model.dtype");
  m.reject_unknown();

  if (const toml::table* weights = subtable(root, "weights", origin)) {
    Table w(*weights, "weights.", origin);
    bool random = false;
    const bool has_random = w.get_bool("random", random);
    std::string path;
    const bool has_path = w.get_string("path", path);
    std::uint64_t seed = 0;
    const bool has_seed = w.get_u64("seed", seed);
    w.reject_unknown();
    if (has_path && random) throw BadInput(origin + ": weights.path, weights.random: give either path or random = true, not both");
    if (has_path) {
      if (path.empty()) throw BadInput(origin + ": weights.path: must not be empty");
      std::filesystem::path p(path);
      if (p.is_relative() && !base_dir.empty()) p = std::filesystem::path(base_dir) / p;
      s.weights.random = false;
      s.weights.path = p.lexically_normal().string();
      if (has_seed) throw BadInput(origin + ": weights.seed: only meaningful with random = true");
    } else {
      if (has_random && !random) throw BadInput(origin + ": weights.random: random = false needs weights.path = \"...\"");
      s.weights.random = true;
      s.weights.seed = seed;
    }
  }
  validate(s, origin);
  return s;
}

ModelSpec parse_model_toml_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw BadInput(path + ": cannot open model file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw BadInput(path + ": cannot read model file");
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  ModelSpec s = parse_model_toml_string(text.str(), path, dir.empty() ? std::string(1, '.') : dir.string());
  s.source = "file " + path;
  return s;
}

}  // namespace ferry
