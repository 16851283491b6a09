// Presets: the TOML files of models/presets/, embedded at build time.
#include "base/error.h"
#include "models/model_spec.h"
#include "models/presets_data.h"

namespace ferry {

std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  for (const auto& p : detail::embedded_presets()) names.push_back(p.first);
  return names;
}

std::string preset_toml(const std::string& name) {
  for (const auto& p : detail::embedded_presets())
    if (p.first == name) return p.second;
  std::string list;
  for (const auto& p : detail::embedded_presets()) list += (list.empty() ? "" : ", ") + p.first;
  throw BadInput("unknown preset '" + name + "' (presets: " + list + ")");
}

}  // namespace ferry
