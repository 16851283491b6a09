// modules.json and 1_Pooling/config.json of a sentence-transformers directory (sentence_transformers.h).
#include "models/sentence_transformers.h"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "models/file_text.h"

namespace ferry {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

bool flag(const json& j, const char* key, const fs::path& file) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return false;
  if (!it->is_boolean()) throw BadInput(file.string() + ": " + key + ": expected true or false");
  return it->get<bool>();
}

// The pooling module's config.json: exactly one of the modes ferry implements.
std::string pooling_mode(const fs::path& file) {
  const json j = parse_json_file(file.string());
  if (!j.is_object()) throw BadInput(file.string() + ": expected a JSON object");
  for (const char* unsupported : {"pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens",
                                  "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"})
    if (flag(j, unsupported, file))
      throw BadInput(file.string() + ": " + unsupported + " is not supported (supported: mean, cls)");
  const bool mean = flag(j, "pooling_mode_mean_tokens", file), cls = flag(j, "pooling_mode_cls_token", file);
  if (mean && cls) throw BadInput(file.string() + ": several pooling modes at once are not supported");
  if (!mean && !cls) throw BadInput(file.string() + ": no pooling mode is set (supported: mean, cls)");
  return mean ? "mean" : "cls";
}

}  // namespace

std::optional<SentenceTransformersConfig> read_sentence_transformers(const std::string& dir) {
  const fs::path modules = fs::path(dir) / "modules.json";
  std::error_code ec;
  if (!fs::is_regular_file(modules, ec)) return std::nullopt;
  const json j = parse_json_file(modules.string());
  if (!j.is_array()) throw BadInput(modules.string() + ": expected an array of modules");
  SentenceTransformersConfig c;
  c.source = modules.string();
  bool pooled = false;
  for (std::size_t i = 0; i < j.size(); ++i) {
    const json& m = j[i];
    const std::string at = modules.string() + ": module " + std::to_string(i);
    if (!m.is_object() || !m.contains("type") || !m["type"].is_string()) throw BadInput(at + ": needs a \"type\" string");
    const std::string type = m["type"].get<std::string>();
    const std::string path = m.contains("path") && m["path"].is_string() ? m["path"].get<std::string>() : "";
    if (path.find("..") != std::string::npos || (!path.empty() && path.front() == '/'))
      throw BadInput(at + ": path '" + path + "' leaves the model directory");
    if (type == "sentence_transformers.models.Transformer") continue;
    if (type == "sentence_transformers.models.Pooling") {
      c.pooling = pooling_mode(fs::path(dir) / path / "config.json");
      pooled = true;
    } else if (type == "sentence_transformers.models.Normalize") {
      c.normalize = true;
    } else {
      throw BadInput(at + ": module type '" + type + "' is not supported (supported: Transformer, Pooling, Normalize)");
    }
  }
  if (!pooled) throw BadInput(modules.string() + ": no Pooling module");
  return c;
}

}  // namespace ferry
