// GGUF parsing (ggml docs/gguf.md): magic "GGUF", u32 version (2 or 3), u64 tensor count, u64
// metadata count, the metadata key/value pairs, the tensor infos, then the data section at the next
// multiple of general.alignment (default 32). Little endian throughout. Every count and length is
// checked against the bytes left in the file before anything is allocated.
#include "models/gguf.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "base/error.h"

namespace ferry {

namespace {

enum : std::uint32_t { kU8, kI8, kU16, kI16, kU32, kI32, kF32, kBool, kString, kArray, kU64, kI64, kF64 };
const char* const kTypeNames[] = {"uint8", "int8",   "uint16", "int16",  "uint32", "int32", "float32",
                                  "bool",  "string", "array",  "uint64", "int64",  "float64"};

class Reader {
 public:
  Reader(const std::byte* p, std::uint64_t n, const GgufFile& f) : p_(p), n_(n), f_(f) {}
  std::uint64_t pos() const { return pos_; }
  void need(std::uint64_t k, const char* what) const {
    if (k > n_ - pos_) f_.bad(std::string("truncated file: ") + what + " runs past the end (offset " + std::to_string(pos_) + ")");
  }
  template <class T>
  T get(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string str(const char* what) {
    const auto len = get<std::uint64_t>(what);
    need(len, what);
    std::string s(reinterpret_cast<const char*>(p_ + pos_), static_cast<std::size_t>(len));
    pos_ += len;
    return s;
  }
  GgufValue value(std::uint32_t type, int depth) {
    GgufValue v;
    v.type = type;
    switch (type) {
      case kU8: v.v = std::uint64_t{get<std::uint8_t>("a value")}; break;
      case kI8: v.v = std::int64_t{get<std::int8_t>("a value")}; break;
      case kU16: v.v = std::uint64_t{get<std::uint16_t>("a value")}; break;
      case kI16: v.v = std::int64_t{get<std::int16_t>("a value")}; break;
      case kU32: v.v = std::uint64_t{get<std::uint32_t>("a value")}; break;
      case kI32: v.v = std::int64_t{get<std::int32_t>("a value")}; break;
      case kF32: v.v = double{get<float>("a value")}; break;
      case kBool: v.v = get<std::uint8_t>("a value") != 0; break;
      case kString: v.v = str("a string"); break;
      case kU64: v.v = get<std::uint64_t>("a value"); break;
      case kI64: v.v = get<std::int64_t>("a value"); break;
      case kF64: v.v = get<double>("a value"); break;
      case kArray: {
        if (depth > 8) f_.bad("arrays nested deeper than 8");
        const auto et = get<std::uint32_t>("an array type");
        const auto count = get<std::uint64_t>("an array length");
        if (et > kF64) f_.bad("unknown metadata value type " + std::to_string(et) + " in an array");
        // Every element takes at least one byte: a count beyond the bytes left is a lie.
        if (count > n_ - pos_) f_.bad("truncated file: an array of " + std::to_string(count) + " elements runs past the end");
        std::vector<GgufValue> items;
        items.reserve(static_cast<std::size_t>(count));
        for (std::uint64_t i = 0; i < count; ++i) items.push_back(value(et, depth + 1));
        v.v = std::move(items);
        break;
      }
      default: f_.bad("unknown metadata value type " + std::to_string(type));
    }
    return v;
  }

 private:
  const std::byte* p_;
  std::uint64_t n_, pos_ = 0;
  const GgufFile& f_;
};

}  // namespace

const char* GgufValue::type_name() const { return type <= kF64 ? kTypeNames[type] : "unknown"; }

std::uint64_t GgufTensor::elements() const {
  std::uint64_t n = 1;
  for (std::uint64_t d : ne) n *= d;  // bounded by the parser (each dimension and the product < 2^62)
  return n;
}

void GgufFile::bad(const std::string& msg) const { throw BadInput(path_ + ": " + msg); }

GgufFile::GgufFile(const std::string& path) : path_(path) {
  try {
    file_ = MappedFile::open_read(path);
  } catch (const Error& e) {
    bad(std::string("cannot open: ") + e.what());
  }
  Reader r(file_.data(), file_.size(), *this);
  if (file_.size() < 4 || std::memcmp(file_.data(), "GGUF", 4) != 0) bad("not a GGUF file (wrong magic)");
  r.get<std::uint32_t>("the magic");
  version_ = r.get<std::uint32_t>("the version");
  if (version_ != 2 && version_ != 3) bad("unknown GGUF version " + std::to_string(version_) + " (supported: 2, 3)");
  const auto n_tensors = r.get<std::uint64_t>("the tensor count");
  const auto n_kv = r.get<std::uint64_t>("the metadata count");
  if (n_kv > file_.size() || n_tensors > file_.size()) bad("truncated file: counts beyond the file size");
  for (std::uint64_t i = 0; i < n_kv; ++i) {
    std::string key = r.str("a metadata key");
    const auto type = r.get<std::uint32_t>("a metadata type");
    GgufValue v = r.value(type, 0);
    if (!meta_.emplace(std::move(key), std::move(v)).second) bad("metadata key repeated");
  }
  std::uint64_t alignment = 32;
  if (has("general.alignment")) {
    alignment = get_uint("general.alignment");
    if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > (1u << 20))
      bad("general.alignment " + std::to_string(alignment) + " is not a power of two");
  }
  for (std::uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensor t;
    t.name = r.str("a tensor name");
    const auto dims = r.get<std::uint32_t>("a tensor's dimension count");
    if (dims == 0 || dims > 4) bad("tensor '" + t.name + "' has " + std::to_string(dims) + " dimensions (1 to 4)");
    std::uint64_t elems = 1;
    for (std::uint32_t d = 0; d < dims; ++d) {
      const auto n = r.get<std::uint64_t>("a tensor dimension");
      if (n == 0 || n > (1ull << 40) || elems > (1ull << 62) / n) bad("tensor '" + t.name + "' has an absurd shape");
      elems *= n;
      t.ne.push_back(n);
    }
    t.type = r.get<std::uint32_t>("a tensor type");
    t.offset = r.get<std::uint64_t>("a tensor offset");
    std::uint64_t be = 0, bb = 0;
    if (!ggml_block(t.type, be, bb))
      bad("tensor '" + t.name + "' has ggml type " + std::to_string(t.type) +
          ", which ferry does not read (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q6_K)");
    if (t.ne[0] % be != 0)
      bad("tensor '" + t.name + "': rows of " + std::to_string(t.ne[0]) + " are not whole " + ggml_type_name(t.type) + " blocks");
    t.bytes = elems / be * bb;
    if (t.offset % alignment != 0) bad("tensor '" + t.name + "' is not aligned to " + std::to_string(alignment));
    tensors_.push_back(std::move(t));
  }
  data_start_ = (r.pos() + alignment - 1) / alignment * alignment;
  if (data_start_ > file_.size() && !tensors_.empty()) bad("truncated file: no data section");
  const std::uint64_t data_bytes = file_.size() > data_start_ ? file_.size() - data_start_ : 0;
  std::vector<const GgufTensor*> by_offset;
  for (const GgufTensor& t : tensors_) {
    if (t.offset > data_bytes || t.bytes > data_bytes - t.offset)
      bad("tensor '" + t.name + "' runs past the end of the file (truncated?)");
    by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (std::size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i - 1]->offset + by_offset[i - 1]->bytes > by_offset[i]->offset)
      bad("tensors '" + by_offset[i - 1]->name + "' and '" + by_offset[i]->name + "' overlap");
}

const GgufTensor* GgufFile::find_tensor(const std::string& name) const {
  for (const GgufTensor& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

const GgufValue& GgufFile::get(const std::string& key) const {
  auto it = meta_.find(key);
  if (it == meta_.end()) bad("metadata key '" + key + "' is missing");
  return it->second;
}

std::uint64_t GgufFile::get_uint(const std::string& key) const {
  const GgufValue& v = get(key);
  if (const auto* u = std::get_if<std::uint64_t>(&v.v)) return *u;
  if (const auto* i = std::get_if<std::int64_t>(&v.v); i && *i >= 0) return static_cast<std::uint64_t>(*i);
  bad("metadata key '" + key + "' has type " + v.type_name() + ", expected a non-negative integer");
}

double GgufFile::get_float(const std::string& key) const {
  const GgufValue& v = get(key);
  if (const auto* d = std::get_if<double>(&v.v)) return *d;
  if (const auto* u = std::get_if<std::uint64_t>(&v.v)) return static_cast<double>(*u);
  if (const auto* i = std::get_if<std::int64_t>(&v.v)) return static_cast<double>(*i);
  bad("metadata key '" + key + "' has type " + v.type_name() + ", expected a number");
}

bool GgufFile::get_bool(const std::string& key) const {
  const GgufValue& v = get(key);
  if (const auto* b = std::get_if<bool>(&v.v)) return *b;
  bad("metadata key '" + key + "' has type " + v.type_name() + ", expected bool");
}

const std::string& GgufFile::get_string(const std::string& key) const {
  const GgufValue& v = get(key);
  if (const auto* s = std::get_if<std::string>(&v.v)) return *s;
  bad("metadata key '" + key + "' has type " + v.type_name() + ", expected string");
}

const std::vector<GgufValue>& GgufFile::get_array(const std::string& key) const {
  const GgufValue& v = get(key);
  if (const auto* a = std::get_if<std::vector<GgufValue>>(&v.v)) return *a;
  bad("metadata key '" + key + "' has type " + v.type_name() + ", expected array");
}

bool is_gguf_path(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  return in && std::memcmp(magic, "GGUF", 4) == 0;
}

}  // namespace ferry
