#include "models/file_text.h"

#include <fstream>
#include <sstream>

#include "base/error.h"

namespace ferry {

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw BadInput(path + ": cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  if (f.bad()) throw BadInput(path + ": cannot read");
  return ss.str();
}

nlohmann::json parse_json_file(const std::string& path) {
  const std::string text = read_file(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw BadInput(path + ": invalid JSON: " + e.what());
  }
}

}  // namespace ferry
