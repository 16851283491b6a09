// Hugging Face tokenizer.json / tokenizer_config.json beyond the BPE model (models/tokenizer_hf.h).
// Field names are those of the `tokenizers` library's serialisation (pre_tokenizer, added_tokens,
// post_processor with TemplateProcessing) and of transformers' tokenizer_config.json (bos_token,
// eos_token, add_bos_token, chat_template).
#include "models/tokenizer_hf.h"

#include <filesystem>

#include "base/error.h"
#include "models/file_text.h"

namespace ferry {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

bool byte_level(const json& p) { return p.is_object() && p.value("type", "") == "ByteLevel"; }

// ByteLevel with the regex on is GPT-2's pattern; a prefix space would change every id.
void check_byte_level(const json& p, bool want_regex, const std::string& where) {
  if (p.value("add_prefix_space", false))
    throw BadInput(where + ": ByteLevel add_prefix_space true is not supported");
  if (p.value("use_regex", true) != want_regex)
    throw BadInput(where + ": ByteLevel use_regex " + std::string(want_regex ? "false" : "true") +
                   " is not supported in this position");
}

// LLaMA 3's Split pattern: recognised by the parts that tell it from GPT-2's.
bool llama3_split(const json& p) {
  if (!p.is_object() || p.value("type", "") != "Split" || !p.contains("pattern")) return false;
  const json& pat = p["pattern"];
  const std::string re = pat.is_object() && pat.contains("Regex") && pat["Regex"].is_string() ? pat["Regex"].get<std::string>() : "";
  return re.find("\\p{N}{1,3}") != std::string::npos && re.find("(?i:'s|'t|'re|'ve|'m|'ll|'d)") != std::string::npos;
}

std::string pre_tokenizer(const json& tj, const std::string& path) {
  const std::string where = path + ": pre_tokenizer";
  if (!tj.contains("pre_tokenizer") || tj["pre_tokenizer"].is_null()) return "gpt2";  // GPT-2's files before ByteLevel was written
  const json& pt = tj["pre_tokenizer"];
  if (byte_level(pt)) {
    check_byte_level(pt, true, where);
    return "gpt2";
  }
  if (pt.is_object() && pt.value("type", "") == "Sequence" && pt.contains("pretokenizers") &&
      pt["pretokenizers"].is_array() && pt["pretokenizers"].size() == 2) {
    const json& a = pt["pretokenizers"][0];
    const json& b = pt["pretokenizers"][1];
    if (a.is_object() && a.value("type", "") == "Digits" && a.value("individual_digits", false) && byte_level(b)) {
      check_byte_level(b, true, where);
      return "smollm";
    }
    if (llama3_split(a) && byte_level(b)) {
      check_byte_level(b, false, where);
      return "llama-bpe";
    }
  }
  throw BadInput(where + ": " + pt.dump().substr(0, 120) +
                 " is not supported (supported: GPT-2's ByteLevel, SmolLM's Digits + ByteLevel, LLaMA 3's Split + ByteLevel)");
}

}  // namespace

std::vector<std::pair<std::string, std::int32_t>> hf_added_tokens(const json& tj, const std::string& path) {
  std::vector<std::pair<std::string, std::int32_t>> out;
  if (!tj.contains("added_tokens") || tj["added_tokens"].is_null()) return out;
  const json& at = tj["added_tokens"];
  if (!at.is_array()) throw BadInput(path + ": added_tokens: expected an array");
  for (std::size_t i = 0; i < at.size(); ++i) {
    const json& e = at[i];
    const std::string w = path + ": added_tokens[" + std::to_string(i) + "]";
    if (!e.is_object() || !e.contains("id") || !e["id"].is_number_unsigned() || !e.contains("content") ||
        !e["content"].is_string() || e["content"].get<std::string>().empty())
      throw BadInput(w + ": expected {\"id\": a non-negative integer, \"content\": a non-empty string}");
    if (e["id"].get<std::uint64_t>() >= (std::uint64_t{1} << 24)) throw BadInput(w + ": id out of range");
    out.emplace_back(e["content"].get<std::string>(), static_cast<std::int32_t>(e["id"].get<std::uint64_t>()));
  }
  return out;
}

namespace {

// The token a TemplateProcessing post-processor puts before a single sequence ("" = none), found
// at the top level or inside a Sequence of processors.
std::string template_bos(const json& pp) {
  if (!pp.is_object()) return "";
  if (pp.value("type", "") == "Sequence" && pp.contains("processors") && pp["processors"].is_array()) {
    for (const json& p : pp["processors"])
      if (std::string t = template_bos(p); !t.empty()) return t;
    return "";
  }
  if (pp.value("type", "") != "TemplateProcessing" || !pp.contains("single") || !pp["single"].is_array() ||
      pp["single"].empty())
    return "";
  const json& first = pp["single"][0];
  if (first.is_object() && first.contains("SpecialToken") && first["SpecialToken"].is_object() &&
      first["SpecialToken"].contains("id") && first["SpecialToken"]["id"].is_string())
    return first["SpecialToken"]["id"].get<std::string>();
  return "";
}

// bos_token / eos_token: a string or {"content": string} (AddedToken's serialisation); null = none.
std::string token_text(const json& cfg, const char* key, const std::string& path) {
  if (!cfg.contains(key) || cfg[key].is_null()) return "";
  const json& v = cfg[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  throw BadInput(path + ": " + key + ": expected a string or {\"content\": string}");
}

// chat_template: a string, or a list of {"name", "template"} of which "default" is taken.
std::string chat_template(const json& cfg, const std::string& path) {
  if (!cfg.contains("chat_template") || cfg["chat_template"].is_null()) return "";
  const json& v = cfg["chat_template"];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    for (const json& t : v)
      if (t.is_object() && t.value("name", "") == "default" && t.contains("template") && t["template"].is_string())
        return t["template"].get<std::string>();
    return "";
  }
  throw BadInput(path + ": chat_template: expected a string or a list of {\"name\", \"template\"}");
}


}  // namespace

HfTokenizerExtras hf_tokenizer_extras(const json& tj, const std::string& path) {
  HfTokenizerExtras x;
  x.pre = pre_tokenizer(tj, path);
  x.added = hf_added_tokens(tj, path);
  if (tj.contains("post_processor")) x.bos_token = template_bos(tj["post_processor"]);
  x.add_bos = !x.bos_token.empty();
  const fs::path cfg_path = fs::path(path).parent_path() / "tokenizer_config.json";
  std::error_code ec;
  if (!fs::exists(cfg_path, ec)) return x;
  const std::string cp = cfg_path.string();
  const json cfg = parse_json_file(cp);
  if (!cfg.is_object()) throw BadInput(cp + ": expected a JSON object");
  if (const std::string bos = token_text(cfg, "bos_token", cp); !bos.empty() && x.bos_token.empty()) x.bos_token = bos;
  x.eos_token = token_text(cfg, "eos_token", cp);
  if (cfg.contains("add_bos_token")) {  // LLaMA 2 style; overrides what the post-processor implies
    if (!cfg["add_bos_token"].is_boolean()) throw BadInput(cp + ": add_bos_token: expected true or false");
    x.add_bos = cfg["add_bos_token"].get<bool>();
  }
  x.chat_template = chat_template(cfg, cp);
  return x;
}

}  // namespace ferry
