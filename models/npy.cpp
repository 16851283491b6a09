// .npy float32 2-D reader/writer. Format (numpy.lib.format, "NEP 1"): magic "\x93NUMPY", major and
// minor version bytes, header length (u16 LE in 1.0, u32 LE in 2.0/3.0), then an ASCII Python dict
// literal {'descr': '<f4', 'fortran_order': False, 'shape': (R, C), } padded with spaces and '\n'
// to a multiple of 64 bytes, then the raw data.
#include "models/npy.h"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>

#include "base/checked.h"
#include "base/error.h"

namespace ferry {

namespace {

constexpr char kMagic[] = "\x93NUMPY";

// Parses the header dict literal into key -> value text ('<f4', False, (3, 4)).
class DictParser {
 public:
  DictParser(const std::string& s, const std::string& path) : s_(s), path_(path) {}

  std::map<std::string, std::string> parse() {
    std::map<std::string, std::string> out;
    skip();
    expect('{');
    for (;;) {
      skip();
      if (peek() == '}') break;
      const std::string key = quoted();
      skip();
      expect(':');
      skip();
      std::string value;
      if (peek() == '\'' || peek() == '"') value = quoted();
      else if (peek() == '(') {
        const std::size_t close = s_.find(')', i_);
        if (close == std::string::npos) fail("unterminated tuple");
        value = s_.substr(i_, close + 1 - i_);
        i_ = close + 1;
      } else {
        const std::size_t b = i_;
        while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_')) ++i_;
        value = s_.substr(b, i_ - b);
        if (value.empty()) fail("unexpected character in header");
      }
      out[key] = value;
      skip();
      if (peek() == ',') ++i_;
      else if (peek() != '}') fail("expected ',' or '}' in header");
    }
    return out;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const { throw BadInput(path_ + ": bad .npy header: " + why); }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++i_;
  }
  std::string quoted() {
    const char q = peek();
    if (q != '\'' && q != '"') fail("expected a quoted string");
    const std::size_t close = s_.find(q, i_ + 1);
    if (close == std::string::npos) fail("unterminated string");
    std::string v = s_.substr(i_ + 1, close - i_ - 1);
    i_ = close + 1;
    return v;
  }
  const std::string& s_;
  const std::string& path_;
  std::size_t i_ = 0;
};

}  // namespace

void write_npy_f32(const std::string& path, const float* data, std::int64_t rows, std::int64_t cols) {
  FERRY_CHECK(rows >= 0 && cols >= 0, "write_npy_f32: negative shape");
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                     std::to_string(cols) + "), }";
  const std::size_t unpadded = 10 + dict.size() + 1;  // magic(6) + version(2) + len(2) + dict + '\n'
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict += '\n';
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw BadInput(path + ": cannot write: " + std::strerror(errno));
  out.write(kMagic, 6);
  const unsigned char hdr[4] = {1, 0, static_cast<unsigned char>(dict.size() & 0xff),
                                static_cast<unsigned char>(dict.size() >> 8)};
  out.write(reinterpret_cast<const char*>(hdr), 4);
  out.write(dict.data(), static_cast<std::streamsize>(dict.size()));
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(rows * cols * 4));
  out.flush();
  if (!out) throw BadInput(path + ": cannot write");
}

NpyF32 read_npy_f32(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw BadInput(path + ": cannot open");
  char pre[10];
  if (!in.read(pre, 8) || std::memcmp(pre, kMagic, 6) != 0) throw BadInput(path + ": not a .npy file");
  const int major = static_cast<unsigned char>(pre[6]);
  std::uint32_t len = 0;
  unsigned char lb[4] = {0, 0, 0, 0};
  if (major == 1) {
    if (!in.read(reinterpret_cast<char*>(lb), 2)) throw BadInput(path + ": truncated .npy header");
    len = lb[0] | (static_cast<std::uint32_t>(lb[1]) << 8);
  } else if (major == 2 || major == 3) {
    if (!in.read(reinterpret_cast<char*>(lb), 4)) throw BadInput(path + ": truncated .npy header");
    len = lb[0] | (static_cast<std::uint32_t>(lb[1]) << 8) | (static_cast<std::uint32_t>(lb[2]) << 16) |
          (static_cast<std::uint32_t>(lb[3]) << 24);
  } else {
    throw BadInput(path + ": unsupported .npy version " + std::to_string(major));
  }
  if (len > (1u << 20)) throw BadInput(path + ": .npy header too long");
  std::string header(len, '\0');
  if (!in.read(header.data(), len)) throw BadInput(path + ": truncated .npy header");
  const std::map<std::string, std::string> d = DictParser(header, path).parse();
  auto get = [&](const char* k) {
    auto it = d.find(k);
    if (it == d.end()) throw BadInput(path + ": .npy header lacks '" + k + "'");
    return it->second;
  };
  const std::string descr = get("descr");
  if (descr != "<f4") throw BadInput(path + ": dtype '" + descr + "' is not little-endian float32 ('<f4')");
  if (get("fortran_order") != "False") throw BadInput(path + ": Fortran-order arrays are not supported");
  // shape: "(R, C)" with optional trailing comma and spaces
  std::vector<std::int64_t> dims;
  const std::string shape = get("shape");
  std::size_t i = 1;
  while (i < shape.size()) {
    while (i < shape.size() && (shape[i] == ' ' || shape[i] == ',')) ++i;
    if (i >= shape.size() || shape[i] == ')') break;
    if (!std::isdigit(static_cast<unsigned char>(shape[i]))) throw BadInput(path + ": bad .npy shape " + shape);
    std::int64_t v = 0;
    while (i < shape.size() && std::isdigit(static_cast<unsigned char>(shape[i]))) {
      if (v > (std::int64_t{1} << 40)) throw BadInput(path + ": .npy shape too large " + shape);
      v = v * 10 + (shape[i++] - '0');
    }
    dims.push_back(v);
  }
  if (dims.size() != 2) throw BadInput(path + ": expected a 2-D array, shape is " + shape);
  // The data must be in the file, to the byte, before anything is allocated for it: a 100-byte
  // file claiming (65536, 65536) must not ask for 16 GiB, and (4294967296, 4294967296) must not
  // wrap to an empty array.
  const std::optional<std::uint64_t> n = checked_product({static_cast<std::uint64_t>(dims[0]),
                                                          static_cast<std::uint64_t>(dims[1])});
  const std::optional<std::uint64_t> bytes = n ? checked_mul(*n, sizeof(float)) : std::nullopt;
  if (!bytes) throw BadInput(path + ": .npy shape " + shape + ": element count does not fit in 64 bits");
  const std::streamoff data_start = in.tellg();
  in.seekg(0, std::ios::end);
  const std::streamoff file_end = in.tellg();
  if (data_start < 0 || file_end < data_start) throw BadInput(path + ": cannot read (not a seekable file)");
  const auto present = static_cast<std::uint64_t>(file_end - data_start);
  if (present != *bytes)
    throw BadInput(path + ": .npy shape " + shape + " needs " + std::to_string(*bytes) + " bytes of float32 data, " +
                   (present < *bytes ? "the file has only " : "the file has ") + std::to_string(present) +
                   (present < *bytes ? " (truncated .npy data)" : " (trailing bytes after the data)"));
  in.seekg(data_start);
  NpyF32 a;
  a.rows = dims[0];
  a.cols = dims[1];
  a.data.resize(static_cast<std::size_t>(*n));
  if (!in.read(reinterpret_cast<char*>(a.data.data()), static_cast<std::streamsize>(*bytes)))
    throw BadInput(path + ": truncated .npy data (expected " + std::to_string(*n) + " float32 values)");
  return a;
}

}  // namespace ferry
