// Checkpoint weight source: one safetensors file, or a Hugging Face directory with
// model.safetensors or sharded model.safetensors.index.json ({"weight_map": {name: file}}).
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "models/safetensors.h"
#include "models/weights.h"

namespace ferry {

namespace {

namespace fs = std::filesystem;
// The base-model prefixes of Hugging Face's task classes: GPT2LMHeadModel's "transformer.",
// BertFor*'s "bert." (their heads, "cls.", "classifier.", "qa_outputs.", stay as they are).
constexpr const char* kPrefixes[] = {"transformer.", "bert."};

std::string strip_prefix(const std::string& name) {
  for (const char* prefix : kPrefixes) {
    const std::string p = prefix;
    if (name.compare(0, p.size(), p) == 0) return name.substr(p.size());
  }
  return name;
}

class CheckpointSource final : public WeightSource {
 public:
  explicit CheckpointSource(const std::string& path) : path_(path) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      const fs::path index = fs::path(path) / "model.safetensors.index.json";
      const fs::path single = fs::path(path) / "model.safetensors";
      if (fs::exists(index, ec)) open_index(index.string());
      else if (fs::exists(single, ec)) add_file(single.string(), nullptr);
      else
        throw BadInput(path + ": no model.safetensors or model.safetensors.index.json in this directory");
    } else if (fs::exists(path, ec)) {
      add_file(path, nullptr);
    } else {
      throw BadInput(path + ": checkpoint not found");
    }
  }

  void read(const std::string& name, const Shape& shape, DType dst_dtype, void* dst) override {
    auto it = where_.find(name);
    if (it == where_.end()) throw BadInput(describe_files() + ": tensor '" + name + "' missing");
    const SafetensorsFile& f = files_[it->second.file];
    const SafetensorsEntry& e = *it->second.entry;
    bool same = static_cast<int>(e.shape.size()) == shape.rank;
    for (int i = 0; same && i < shape.rank; ++i) same = e.shape[static_cast<std::size_t>(i)] == shape[i];
    if (!same)
      throw BadInput(f.path() + ": tensor '" + e.name + "' has shape " + e.shape_str() + ", expected " + shape.str());
    f.read(e, dst_dtype, dst);
  }

  std::string describe() const override {
    return "checkpoint " + path_ + " (" + std::to_string(files_.size()) + (files_.size() == 1 ? " file)" : " shards)");
  }

 private:
  struct Location {
    std::size_t file;
    const SafetensorsEntry* entry;
  };

  std::string describe_files() const { return files_.size() == 1 ? files_[0].path() : path_; }

  // Opens one file and indexes its tensors (all of them, or only those the index assigns to it).
  void add_file(const std::string& file, const std::set<std::string>* only) {
    files_.push_back(SafetensorsFile::open(file));
    const std::size_t k = files_.size() - 1;
    for (const SafetensorsEntry& e : files_[k].tensors()) {
      if (only && !only->count(e.name)) continue;
      const std::string key = strip_prefix(e.name);
      auto [it, inserted] = where_.emplace(key, Location{k, &e});
      if (!inserted && it->second.entry->name != e.name) {
        // Both "x" and "transformer.x": prefer the unprefixed name.
        if (e.name == key) it->second = Location{k, &e};
      } else if (!inserted) {
        throw BadInput(file + ": tensor '" + e.name + "' also appears in " + files_[it->second.file].path());
      }
    }
  }

  void open_index(const std::string& index) {
    std::ifstream in(index);
    if (!in) throw BadInput(index + ": cannot open");
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      throw BadInput(index + ": invalid JSON: " + e.what());
    }
    if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
      throw BadInput(index + ": missing weight_map object");
    std::map<std::string, std::set<std::string>> by_file;  // shard -> tensors it holds
    for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
      if (!it.value().is_string()) throw BadInput(index + ": weight_map." + it.key() + ": expected a file name");
      by_file[it.value().get<std::string>()].insert(it.key());
    }
    if (by_file.empty()) throw BadInput(index + ": weight_map is empty");
    // Shard files must live inside the checkpoint directory: plain names, no path parts.
    for (const auto& [file, names] : by_file) {
      if (file.empty() || fs::path(file).filename().string() != file || file == "." || file == "..")
        throw BadInput(index + ": shard '" + file + "' is not a file name in the checkpoint directory");
      const fs::path shard = fs::path(path_) / file;
      std::error_code ec;
      if (!fs::exists(shard, ec)) throw BadInput(index + ": shard '" + file + "' (listed for tensor '" +
                                                 *names.begin() + "') not found");
      add_file(shard.string(), &names);
      for (const std::string& n : names)
        if (!files_.back().find(n))
          throw BadInput(shard.string() + ": tensor '" + n + "' listed in " + index + " is not in this shard");
    }
  }

  std::string path_;
  std::vector<SafetensorsFile> files_;
  std::map<std::string, Location> where_;  // name without "transformer." -> location
};

}  // namespace

std::unique_ptr<WeightSource> open_checkpoint(const std::string& path) {
  return std::make_unique<CheckpointSource>(path);
}

}  // namespace ferry
