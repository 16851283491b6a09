// Checkpoint weight sources: single file, directory, sharded index, "transformer." prefix, errors.
#include <gtest/gtest.h>

#include <cstring>

#include "models/safetensors.h"
#include "models/weights.h"
#include "test_util.h"

namespace ferry {
namespace {

using test::expect_bad_input;
using test::TempDir;

ModelSpec tiny_spec() {
  return parse_model_toml_string(R"([model]
vocab_size = 11
context_length = 6
hidden_size = 8
num_layers = 2
num_heads = 2
)",
                                 "tiny", "");
}

// Tensor value: a function of its index in gpt2_tensors and element.
float value(std::size_t tensor, std::size_t i) { return static_cast<float>(tensor) + 0.001f * static_cast<float>(i); }

// Writes the tensors [first, last) of `infos` to `path` with names prefix + name, in `dtype`.
void write_part(const std::string& path, const std::vector<TensorInfo>& infos, std::size_t first, std::size_t last,
                const std::string& prefix, DType dtype, std::vector<SafetensorsTensor> extra = {}) {
  std::vector<SafetensorsTensor> ts;
  std::vector<std::size_t> ids;
  for (std::size_t k = first; k < last; ++k) {
    ts.push_back({prefix + infos[k].name, dtype, infos[k].shape});
    ids.push_back(k);
  }
  for (const SafetensorsTensor& e : extra) {
    ts.push_back(e);
    ids.push_back(SIZE_MAX);
  }
  write_safetensors(path, ts, {{"format", "pt"}}, [&](std::size_t j, void* dst) {
    const std::size_t n = static_cast<std::size_t>(ts[j].shape.numel());
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = ids[j] == SIZE_MAX ? -1.f : value(ids[j], i);
    convert(v.data(), DType::F32, dst, ts[j].dtype, n);
  });
}

// Reads every tensor as f32 and checks the values.
void expect_all_tensors(WeightSource& src, const ModelSpec& spec, DType stored) {
  const std::vector<TensorInfo> infos = gpt2_tensors(spec);
  for (std::size_t k = 0; k < infos.size(); ++k) {
    SCOPED_TRACE(infos[k].name);
    const std::size_t n = static_cast<std::size_t>(infos[k].shape.numel());
    std::vector<float> got(n), want(n);
    src.read(infos[k].name, infos[k].shape, DType::F32, got.data());
    for (std::size_t i = 0; i < n; ++i) {
      float w = value(k, i);
      if (stored == DType::F16) w = half_to_float(float_to_half(w));
      want[i] = w;
    }
    EXPECT_EQ(got, want);
  }
}

TEST(Checkpoint, SingleFileAndDirectory) {
  TempDir d;
  const ModelSpec spec = tiny_spec();
  const auto infos = gpt2_tensors(spec);
  // Extra tensors that GPT-2 checkpoints carry are ignored.
  write_part(d.file("model.safetensors"), infos, 0, infos.size(), "", DType::F32,
             {{"h.0.attn.bias", DType::F32, {1, 1, 6, 6}}, {"h.0.attn.masked_bias", DType::F32, {}}});
  auto by_file = open_checkpoint(d.file("model.safetensors"));
  expect_all_tensors(*by_file, spec, DType::F32);
  auto by_dir = open_checkpoint(d.path());
  expect_all_tensors(*by_dir, spec, DType::F32);
  EXPECT_NE(by_dir->describe().find(d.path()), std::string::npos);
  EXPECT_NE(by_dir->describe().find("1 file"), std::string::npos);

  // make_weight_source follows spec.weights
  ModelSpec s2 = spec;
  s2.weights.random = false;
  s2.weights.path = d.path();
  expect_all_tensors(*make_weight_source(s2), spec, DType::F32);
}

TEST(Checkpoint, TransformerPrefixAndHalfStorage) {
  TempDir d;
  const ModelSpec spec = tiny_spec();
  const auto infos = gpt2_tensors(spec);
  write_part(d.file("model.safetensors"), infos, 0, infos.size(), "transformer.", DType::F16);
  auto src = open_checkpoint(d.path());
  expect_all_tensors(*src, spec, DType::F16);
  // Reading as f16 gives the stored bits.
  std::vector<std::uint16_t> h(8);
  src->read("ln_f.weight", {8}, DType::F16, h.data());
  for (std::size_t i = 0; i < 8; ++i) EXPECT_EQ(h[i], float_to_half(value(2, i)));
}

TEST(Checkpoint, ShardedIndex) {
  TempDir d;
  ModelSpec spec = tiny_spec();
  spec.tied_embeddings = false;  // lm_head.weight too
  const auto infos = gpt2_tensors(spec);
  const std::size_t half = infos.size() / 2;
  write_part(d.file("model-00001-of-00002.safetensors"), infos, 0, half, "transformer.", DType::F32);
  write_part(d.file("model-00002-of-00002.safetensors"), infos, half, infos.size(), "", DType::F32);
  std::string map;
  for (std::size_t k = 0; k < infos.size(); ++k) {
    const std::string name = (k < half ? "transformer." : "") + infos[k].name;
    map += (k ? ",\n" : "") + std::string("\"") + name + "\": \"model-0000" + (k < half ? "1" : "2") +
           "-of-00002.safetensors\"";
  }
  d.write("model.safetensors.index.json", "{\"metadata\": {\"total_size\": 0}, \"weight_map\": {" + map + "}}");
  auto src = open_checkpoint(d.path());
  EXPECT_NE(src->describe().find("2 shards"), std::string::npos) << src->describe();
  expect_all_tensors(*src, spec, DType::F32);
}

TEST(Checkpoint, ShardErrors) {
  TempDir d;
  const ModelSpec spec = tiny_spec();
  const auto infos = gpt2_tensors(spec);
  write_part(d.file("a.safetensors"), infos, 0, 2, "", DType::F32);
  const std::string index = d.write("model.safetensors.index.json",
                                    R"({"weight_map": {"wte.weight": "a.safetensors", "wpe.weight": "b.safetensors"}})");
  expect_bad_input([&] { open_checkpoint(d.path()); }, {index, "b.safetensors", "wpe.weight"});
  d.write("model.safetensors.index.json",
          R"({"weight_map": {"wte.weight": "a.safetensors", "ln_f.bias": "a.safetensors"}})");
  expect_bad_input([&] { open_checkpoint(d.path()); }, {"a.safetensors", "ln_f.bias"});
  d.write("model.safetensors.index.json", R"({"weight_map": {"wte.weight": "../a.safetensors"}})");
  expect_bad_input([&] { open_checkpoint(d.path()); }, {index, "../a.safetensors"});
  d.write("model.safetensors.index.json", R"({"weights": {}})");
  expect_bad_input([&] { open_checkpoint(d.path()); }, {index, "weight_map"});
}

TEST(Checkpoint, WrongShapeAndMissingTensor) {
  TempDir d;
  const ModelSpec spec = tiny_spec();
  auto infos = gpt2_tensors(spec);
  const std::string file = d.file("model.safetensors");
  // c_attn stored in nn.Linear orientation [3H, H] instead of Conv1D [H, 3H]; ln_f.bias left out.
  for (TensorInfo& t : infos)
    if (t.name == "h.1.attn.c_attn.weight") t.shape = {24, 8};
  std::vector<TensorInfo> kept;
  for (const TensorInfo& t : infos)
    if (t.name != "ln_f.bias") kept.push_back(t);
  write_part(file, kept, 0, kept.size(), "", DType::F32);
  auto src = open_checkpoint(file);
  std::vector<float> buf(24 * 8);
  expect_bad_input([&] { src->read("h.1.attn.c_attn.weight", {8, 24}, DType::F32, buf.data()); },
                   {file, "h.1.attn.c_attn.weight", "[24, 8]", "[8, 24]"});
  expect_bad_input([&] { src->read("ln_f.bias", {8}, DType::F32, buf.data()); }, {file, "ln_f.bias", "missing"});
}

TEST(Checkpoint, NotFound) {
  TempDir d;
  expect_bad_input([&] { open_checkpoint(d.path()); }, {d.path(), "model.safetensors"});
  expect_bad_input([&] { open_checkpoint(d.file("x.safetensors")); }, {"x.safetensors"});
}

}  // namespace
}  // namespace ferry
