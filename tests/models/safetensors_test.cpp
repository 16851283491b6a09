// safetensors: round trips through the writer and reader, and strict validation of bad files.
#include <gtest/gtest.h>

#include <cstring>
#include <numeric>

#include "models/safetensors.h"
#include "test_util.h"

namespace ferry {
namespace {

using test::expect_bad_input;
using test::TempDir;

// A raw file: 8-byte little-endian header length, header text, then `data` bytes.
std::string raw_file(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + data;
}

std::vector<float> ramp(std::size_t n, float scale) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = scale * (static_cast<float>(i) - static_cast<float>(n) / 3.f);
  return v;
}

TEST(Safetensors, RoundTripWithConversions) {
  TempDir d;
  const std::string path = d.file("t.safetensors");
  const std::vector<SafetensorsTensor> tensors = {
      {"a", DType::F32, {3, 5}},
      {"b", DType::F16, {7}},
      {"c", DType::BF16, {2, 3, 4}},
      {"empty", DType::F32, {0, 4}},
  };
  // Values in f32; each tensor is stored converted to its dtype.
  std::vector<std::vector<float>> values;
  for (const SafetensorsTensor& t : tensors) values.push_back(ramp(static_cast<std::size_t>(t.shape.numel()), 0.37f));
  std::vector<std::size_t> filled;
  write_safetensors(
      path, tensors, {{"format", "pt"}, {"note", "x"}},
      [&](std::size_t i, void* dst) {
        if (!values[i].empty()) convert(values[i].data(), DType::F32, dst, tensors[i].dtype, values[i].size());
      },
      [&](std::size_t i) { filled.push_back(i); });
  EXPECT_EQ(filled, (std::vector<std::size_t>{0, 1, 2, 3}));

  const SafetensorsFile f = SafetensorsFile::open(path);
  EXPECT_EQ(f.tensors().size(), 4u);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  EXPECT_EQ(f.metadata().at("note"), "x");
  EXPECT_EQ(f.data_offset() % 8, 0u);
  EXPECT_EQ(f.find("missing"), nullptr);
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    SCOPED_TRACE(tensors[i].name);
    const SafetensorsEntry* e = f.find(tensors[i].name);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->dtype, safetensors_dtype_name(tensors[i].dtype));
    EXPECT_EQ(e->numel(), tensors[i].shape.numel());
    EXPECT_EQ(static_cast<int>(e->shape.size()), tensors[i].shape.rank);
    const std::size_t n = values[i].size();
    // The stored bytes, via an explicit conversion of the originals.
    if (n == 0) {
      EXPECT_NO_THROW(f.read(*e, DType::F32, nullptr));
      continue;
    }
    std::vector<std::uint8_t> stored(n * dtype_size(tensors[i].dtype));
    convert(values[i].data(), DType::F32, stored.data(), tensors[i].dtype, n);
    for (DType to : {DType::F32, DType::F16, DType::BF16}) {
      std::vector<std::uint8_t> got(n * dtype_size(to) + 1, 0xAB), want(n * dtype_size(to));
      f.read(*e, to, got.data());
      convert(stored.data(), tensors[i].dtype, want.data(), to, n);
      EXPECT_EQ(0, std::memcmp(got.data(), want.data(), want.size())) << dtype_name(to);
      EXPECT_EQ(got.back(), 0xAB) << "wrote past the end";
    }
  }
}

TEST(Safetensors, LargeTensorParallelRead) {
  TempDir d;
  const std::string path = d.file("big.safetensors");
  const std::size_t n = (1u << 20) + 3;  // several conversion chunks
  const std::vector<float> v = ramp(n, 1e-3f);
  write_safetensors(path, {{"w", DType::F32, {static_cast<std::int64_t>(n)}}}, {},
                    [&](std::size_t, void* dst) { std::memcpy(dst, v.data(), n * 4); });
  const SafetensorsFile f = SafetensorsFile::open(path);
  std::vector<std::uint16_t> half(n);
  f.read(*f.find("w"), DType::F16, half.data());
  for (std::size_t i = 0; i < n; i += 9973) EXPECT_EQ(half[i], float_to_half(v[i])) << i;
  EXPECT_EQ(half[n - 1], float_to_half(v[n - 1]));
}

TEST(Safetensors, MisalignedDataAndNonFloatTensors) {
  // A 3-byte BOOL tensor first leaves the F32 tensor after it misaligned in the mapping.
  TempDir d;
  float vals[2] = {1.5f, -2.25f};
  std::string data = std::string("\x01\x00\x01", 3) + std::string(reinterpret_cast<const char*>(vals), 8);
  const std::string header =
      R"({"mask":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]},"w":{"dtype":"F32","shape":[2],"data_offsets":[3,11]}})";
  const std::string path = d.write("m.safetensors", raw_file(header, data));
  const SafetensorsFile f = SafetensorsFile::open(path);
  float out[2] = {0, 0};
  f.read(*f.find("w"), DType::F32, out);
  EXPECT_EQ(out[0], 1.5f);
  EXPECT_EQ(out[1], -2.25f);
  expect_bad_input([&] { f.read(*f.find("mask"), DType::F32, out); }, {path, "mask", "BOOL"});
}

struct BadCase {
  const char* what;
  std::string file;
  std::vector<std::string> parts;  // besides the path
};

TEST(Safetensors, RejectsBadFiles) {
  TempDir d;
  const std::string eight(8, 'x');
  const std::vector<BadCase> cases = {
      {"shorter than 8 bytes", std::string("\x05\x00\x00", 3), {"shorter"}},
      {"header length past end", raw_file("{}", "").substr(0, 8) + "{", {"header length"}},
      {"invalid JSON", raw_file("{\"a\": [", ""), {"JSON"}},
      {"header not an object", raw_file("[1, 2]", ""), {"object"}},
      {"offsets past the end",
       raw_file(R"({"wte":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", "1234"), {"wte", "past the end"}},
      {"end before begin",
       raw_file(R"({"wte":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", eight), {"wte", "end before begin"}},
      {"size does not match shape",
       raw_file(R"({"wpe":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", eight), {"wpe", "expected 12"}},
      {"overlapping tensors",
       raw_file(R"({"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"F16","shape":[2],"data_offsets":[2,6]}})",
                eight),
       {"'a'", "'b'", "overlaps"}},
      {"unknown dtype",
       raw_file(R"({"ln_f.bias":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})", eight), {"ln_f.bias", "F33"}},
      {"negative shape",
       raw_file(R"({"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", eight), {"'x'", "shape"}},
      {"missing data_offsets", raw_file(R"({"x":{"dtype":"F32","shape":[2]}})", eight), {"'x'", "data_offsets"}},
      {"three offsets",
       raw_file(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}})", eight), {"'x'", "data_offsets"}},
      {"metadata not strings", raw_file(R"({"__metadata__":{"a":1}})", ""), {"__metadata__"}},
      // Issue 9: element counts that overflow 64 bits (undefined behaviour in numel() before).
      {"element count overflows 64 bits",
       raw_file(R"({"x":{"dtype":"F32","shape":[4294967296,4294967296,2],"data_offsets":[0,0]}})", ""),
       {"'x'", "[4294967296, 4294967296, 2]", "does not fit in 64 bits"}},
      {"element count overflows int64",
       raw_file(R"({"x":{"dtype":"U8","shape":[4294967296,2147483648],"data_offsets":[0,8]}})", eight),
       {"'x'", "does not fit in 64 bits"}},
      {"byte size overflows 64 bits",
       raw_file(R"({"x":{"dtype":"F64","shape":[4294967296,1073741824],"data_offsets":[0,8]}})", eight),
       {"'x'", "byte size does not fit"}},
      {"dimension beyond int64 next to a zero",
       raw_file(R"({"x":{"dtype":"F32","shape":[0,18446744073709551615],"data_offsets":[0,0]}})", ""),
       {"'x'", "dimension 18446744073709551615"}},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.what);
    const std::string path = d.write("bad.safetensors", c.file);
    try {
      SafetensorsFile::open(path);
      ADD_FAILURE() << "expected BadInput";
    } catch (const BadInput& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(path), std::string::npos) << msg;
      for (const std::string& p : c.parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in " << msg;
    }
  }
  expect_bad_input([&] { SafetensorsFile::open(d.file("nonexistent.safetensors")); }, {"nonexistent.safetensors"});
}

TEST(Safetensors, ZeroSizedTensorsWithLargeDimensionsAreFine) {
  TempDir d;
  const std::string path = d.write(
      "z.safetensors", raw_file(R"({"z":{"dtype":"F32","shape":[4294967296,4294967296,0],"data_offsets":[0,0]}})", ""));
  const SafetensorsFile f = SafetensorsFile::open(path);
  ASSERT_EQ(f.tensors().size(), 1u);
  EXPECT_EQ(f.tensors()[0].numel(), 0);
}

// numel() of an entry not made by open(): refused, not wrapped.
TEST(Safetensors, NumelIsOverflowChecked) {
  SafetensorsEntry e;
  e.name = "big";
  e.shape = {4294967296, 4294967296};
  expect_bad_input([&] { (void)e.numel(); }, {"'big'", "[4294967296, 4294967296]", "does not fit"});
  e.shape = {3, -1};
  expect_bad_input([&] { (void)e.numel(); }, {"'big'", "does not fit"});
  e.shape = {3, 0, 4294967296, 4294967296};
  EXPECT_EQ(e.numel(), 0);
  e.shape = {2, 3, 4};
  EXPECT_EQ(e.numel(), 24);
}

TEST(Safetensors, WriteToUnwritablePathIsBadInput) {
  TempDir d;
  const std::string path = d.file("no/such/dir/x.safetensors");
  expect_bad_input(
      [&] { write_safetensors(path, {{"a", DType::F32, {1}}}, {}, [](std::size_t, void* dst) { std::memset(dst, 0, 4); }); },
      {path});
}

}  // namespace
}  // namespace ferry
