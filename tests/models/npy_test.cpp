// .npy float32 2-D reader/writer.
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "models/npy.h"
#include "test_util.h"

namespace ferry {
namespace {

using test::expect_bad_input;
using test::TempDir;

TEST(Npy, RoundTrip) {
  TempDir d;
  std::vector<float> v(3 * 7);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i) * 0.5f - 3.f;
  const std::string path = d.file("a.npy");
  write_npy_f32(path, v.data(), 3, 7);
  const NpyF32 a = read_npy_f32(path);
  EXPECT_EQ(a.rows, 3);
  EXPECT_EQ(a.cols, 7);
  EXPECT_EQ(a.data, v);
  write_npy_f32(path, nullptr, 0, 5);
  const NpyF32 e = read_npy_f32(path);
  EXPECT_EQ(e.rows, 0);
  EXPECT_EQ(e.cols, 5);
}

// A .npy v1.0 file with the given header dict and `data_bytes` zero bytes of data.
std::string npy(const std::string& dict, std::size_t data_bytes) {
  std::string h = dict + "\n";
  std::string out = std::string("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(h.size() & 0xff);
  out += static_cast<char>(h.size() >> 8);
  return out + h + std::string(data_bytes, '\0');
}

TEST(Npy, ReadsNumpyStyleHeaders) {
  TempDir d;
  // As numpy writes it, including the version 2.0 layout (u32 header length).
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  std::string v2 = std::string("\x93NUMPY\x02\x00", 8);
  const std::string h = dict + std::string(64 - (12 + dict.size() + 1) % 64, ' ') + "\n";
  v2 += std::string{static_cast<char>(h.size()), 0, 0, 0} + h + std::string(24, '\0');
  const NpyF32 a = read_npy_f32(d.write("v2.npy", v2));
  EXPECT_EQ(a.rows, 2);
  EXPECT_EQ(a.cols, 3);
  const NpyF32 b = read_npy_f32(d.write("v1.npy", npy("{\"shape\": (4,5), \"descr\": \"<f4\", \"fortran_order\": False}", 80)));
  EXPECT_EQ(b.rows, 4);
  EXPECT_EQ(b.cols, 5);
}

TEST(Npy, RejectsBadFiles) {
  TempDir d;
  const std::string p = d.file("bad.npy");
  auto bad = [&](const std::string& content, const std::string& part) {
    SCOPED_TRACE(part);
    d.write("bad.npy", content);
    expect_bad_input([&] { read_npy_f32(p); }, {p, part});
  };
  bad("hello world", "not a .npy");
  bad(npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", 48), "<f8");
  bad(npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 24), "Fortran");
  bad(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }", 96), "2-D");
  bad(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", 24), "2-D");
  bad(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 20), "truncated");
  bad(npy("{'descr': '<f4', 'shape': (2, 3), }", 24), "fortran_order");
  bad(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)", 24), "header");
  expect_bad_input([&] { read_npy_f32(d.file("none.npy")); }, {"none.npy"});
  expect_bad_input([&] { write_npy_f32(d.file("no/dir/x.npy"), nullptr, 0, 0); }, {"no/dir/x.npy"});
}

// Issue 9: (4294967296, 4294967296) wrapped to an empty array; (65536, 65536) allocated 16 GiB
// before reading anything. The shape is checked against the file before any allocation.
TEST(Npy, ShapesAreCheckedAgainstTheFileBeforeAllocating) {
  TempDir d;
  const std::string p = d.file("s.npy");
  auto bad = [&](const std::string& shape, std::size_t data_bytes, std::initializer_list<std::string> parts) {
    SCOPED_TRACE(shape);
    d.write("s.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }", data_bytes));
    std::vector<std::string> all = {p};
    all.insert(all.end(), parts.begin(), parts.end());
    try {
      read_npy_f32(p);
      ADD_FAILURE() << "expected BadInput";
    } catch (const BadInput& e) {
      for (const std::string& part : all) EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  bad("(4294967296, 4294967296)", 0, {"(4294967296, 4294967296)", "does not fit in 64 bits"});
  bad("(65536, 65536)", 16, {"needs 17179869184 bytes", "has only 16", "truncated"});
  bad("(0, 4294967296)", 4, {"needs 0 bytes", "trailing"});
  bad("(2, 3)", 28, {"needs 24 bytes", "has 28", "trailing"});
  bad("(99999999999999, 1)", 0, {"too large"});
}

}  // namespace
}  // namespace ferry
