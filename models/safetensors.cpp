// safetensors reader (strict validation, parallel conversion from the mapping) and streaming writer.
#include "models/safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>

#include <nlohmann/json.hpp>

#include "base/checked.h"
#include "base/error.h"
#include "base/omp_guard.h"

namespace ferry {

namespace {

using nlohmann::json;

template <class Int>
std::string shape_string(const std::vector<Int>& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

bool float_dtype(const std::string& s, DType& out) {
  if (s == "F32") out = DType::F32;
  else if (s == "F16") out = DType::F16;
  else if (s == "BF16") out = DType::BF16;
  else return false;
  return true;
}

// Reads a JSON array of non-negative integers (shape, data_offsets).
std::vector<std::uint64_t> unsigned_array(const json& j, const std::string& what) {
  if (!j.is_array()) throw BadInput(what + ": expected an array of non-negative integers");
  std::vector<std::uint64_t> out;
  for (const json& v : j) {
    if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<std::int64_t>() >= 0))
      throw BadInput(what + ": expected an array of non-negative integers");
    out.push_back(v.get<std::uint64_t>());
  }
  return out;
}

}  // namespace

std::int64_t SafetensorsEntry::numel() const {
  // Checked: the product of int64 dimensions overflowed (undefined behaviour) for shapes such as
  // [4294967296, 4294967296]; SafetensorsFile::open refuses those, and an entry made by hand
  // gets the same error rather than a wrapped count.
  bool negative = false;
  for (const std::int64_t d : shape) negative = negative || d < 0;
  const std::optional<std::uint64_t> n = negative ? std::nullopt : checked_product(shape);
  if (!n || *n > static_cast<std::uint64_t>(INT64_MAX))
    throw BadInput("tensor '" + name + "': shape " + shape_str() + ": element count does not fit in 64 bits");
  return static_cast<std::int64_t>(*n);
}

std::string SafetensorsEntry::shape_str() const { return shape_string(shape); }

std::size_t safetensors_dtype_size(const std::string& d) {
  if (d == "F64" || d == "I64" || d == "U64") return 8;
  if (d == "F32" || d == "I32" || d == "U32") return 4;
  if (d == "F16" || d == "BF16" || d == "I16" || d == "U16") return 2;
  if (d == "I8" || d == "U8" || d == "BOOL" || d == "F8_E4M3" || d == "F8_E5M2") return 1;
  return 0;
}

const char* safetensors_dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    default: break;
  }
  throw InternalError(std::string("safetensors: no float dtype for ") + dtype_name(t));
}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  SafetensorsFile f;
  f.file_ = MappedFile::open_read(path);
  const std::uint64_t size = f.file_.size();
  if (size < 8)
    throw BadInput(path + ": not a safetensors file (" + std::to_string(size) +
                   " bytes, shorter than the 8-byte header length)");
  const auto* base = reinterpret_cast<const unsigned char*>(f.file_.data());
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | base[i];  // little-endian u64
  if (n > size - 8)
    throw BadInput(path + ": safetensors header length " + std::to_string(n) + " runs past the end of the file (" +
                   std::to_string(size) + " bytes)");
  f.header_len_ = n;
  f.data_ = f.file_.data() + 8 + n;
  const std::uint64_t data_size = size - 8 - n;

  json header;
  try {
    const char* h = reinterpret_cast<const char*>(base + 8);
    header = json::parse(h, h + n);
  } catch (const json::exception& e) {
    throw BadInput(path + ": invalid safetensors header JSON: " + e.what());
  }
  if (!header.is_object()) throw BadInput(path + ": safetensors header is not a JSON object");

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) throw BadInput(path + ": __metadata__ is not a JSON object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) throw BadInput(path + ": __metadata__." + m.key() + " is not a string");
        f.metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string what = path + ": tensor '" + name + "'";
    if (!v.is_object()) throw BadInput(what + ": expected a JSON object");
    const auto dt = v.find("dtype");
    const auto shape = v.find("shape");
    const auto offsets = v.find("data_offsets");
    if (dt == v.end() || !dt->is_string()) throw BadInput(what + ": missing or non-string dtype");
    if (shape == v.end()) throw BadInput(what + ": missing shape");
    if (offsets == v.end()) throw BadInput(what + ": missing data_offsets");
    SafetensorsEntry e;
    e.name = name;
    e.dtype = dt->get<std::string>();
    const std::size_t esize = safetensors_dtype_size(e.dtype);
    if (esize == 0) throw BadInput(what + ": unknown dtype '" + e.dtype + "'");
    const std::vector<std::uint64_t> dims = unsigned_array(*shape, what + ": shape");
    const std::optional<std::uint64_t> count = checked_product(dims);
    if (!count || *count > static_cast<std::uint64_t>(INT64_MAX))
      throw BadInput(what + ": shape " + shape_string(dims) + ": element count does not fit in 64 bits");
    for (const std::uint64_t d : dims) {
      // A zero elsewhere makes the count 0, but each dimension must still be an int64.
      if (d > static_cast<std::uint64_t>(INT64_MAX))
        throw BadInput(what + ": shape " + shape_string(dims) + ": dimension " + std::to_string(d) + " too large");
      e.shape.push_back(static_cast<std::int64_t>(d));
    }
    const std::uint64_t numel = *count;
    const std::vector<std::uint64_t> off = unsigned_array(*offsets, what + ": data_offsets");
    if (off.size() != 2) throw BadInput(what + ": data_offsets must hold two numbers [begin, end]");
    e.begin = off[0];
    e.end = off[1];
    if (e.end < e.begin)
      throw BadInput(what + ": data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                     "] end before begin");
    if (e.end > data_size)
      throw BadInput(what + ": data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                     "] run past the end of the data (" + std::to_string(data_size) + " bytes)");
    const std::optional<std::uint64_t> bytes = checked_mul(numel, esize);
    if (!bytes)
      throw BadInput(what + ": shape " + e.shape_str() + " of " + e.dtype + ": byte size does not fit in 64 bits");
    if (*bytes != e.end - e.begin)
      throw BadInput(what + ": " + std::to_string(e.end - e.begin) + " bytes for shape " + e.shape_str() + " of " +
                     e.dtype + " (expected " + std::to_string(*bytes) + ")");
    f.entries_.push_back(std::move(e));
  }

  // Overlap check: sorted by begin, each non-empty tensor must start at or after the end of every
  // non-empty tensor before it.
  std::vector<const SafetensorsEntry*> by_offset;
  for (const SafetensorsEntry& e : f.entries_)
    if (e.end > e.begin) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const SafetensorsEntry* a, const SafetensorsEntry* b) { return a->begin < b->begin; });
  for (std::size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i]->begin < by_offset[i - 1]->end)
      throw BadInput(path + ": tensor '" + by_offset[i]->name + "' overlaps tensor '" + by_offset[i - 1]->name + "'");

  for (std::size_t i = 0; i < f.entries_.size(); ++i) f.index_[f.entries_[i].name] = i;
  return f;
}

const SafetensorsEntry* SafetensorsFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

void SafetensorsFile::read(const SafetensorsEntry& e, DType dst_dtype, void* dst) const {
  DType src_dtype;
  if (!float_dtype(e.dtype, src_dtype))
    throw BadInput(path() + ": tensor '" + e.name + "' has dtype " + e.dtype + "; only F32, F16 and BF16 can be read");
  const std::size_t n = static_cast<std::size_t>(e.numel());
  const std::size_t ssize = dtype_size(src_dtype), dsize = dtype_size(dst_dtype);
  const std::byte* src = data(e);
  // The file guarantees no alignment: convert from an aligned copy when the data is misaligned.
  const bool aligned = reinterpret_cast<std::uintptr_t>(src) % ssize == 0;
  constexpr std::size_t kChunk = std::size_t{1} << 18;  // elements per task
  const std::int64_t chunks = static_cast<std::int64_t>((n + kChunk - 1) / kChunk);
  OmpGuard guard;  // convert() checks its dtypes and the misaligned path allocates: both can throw
#pragma omp parallel for schedule(dynamic, 1) if (chunks > 1)
  for (std::int64_t c = 0; c < chunks; ++c) {
    guard.run([&] {
      const std::size_t i0 = static_cast<std::size_t>(c) * kChunk;
      const std::size_t m = std::min(kChunk, n - i0);
      const std::byte* s = src + i0 * ssize;
      std::byte* d = static_cast<std::byte*>(dst) + i0 * dsize;
      if (aligned) {
        convert(s, src_dtype, d, dst_dtype, m);
      } else {
        std::unique_ptr<float[]> tmp(new float[(m * ssize + sizeof(float) - 1) / sizeof(float)]);
        std::memcpy(tmp.get(), s, m * ssize);
        convert(tmp.get(), src_dtype, d, dst_dtype, m);
      }
    });
  }
  guard.rethrow();
  // Loading streams: once converted, the source pages leave this process, so peak RSS stays near
  // the model plus one layer instead of holding the checkpoint mapped beside it.
  file_.advise_dontneed(static_cast<std::size_t>(data_offset() + e.begin), static_cast<std::size_t>(e.end - e.begin));
}

namespace {

struct FileCloser {
  void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};

[[noreturn]] void write_failed(const std::string& path, int err) {
  if (err == ENOSPC || err == EDQUOT) throw ResourceExhausted(path + ": cannot write: " + std::strerror(err));
  throw BadInput(path + ": cannot write: " + std::strerror(err));
}

}  // namespace

void write_safetensors(const std::string& path, const std::vector<SafetensorsTensor>& tensors,
                       const std::map<std::string, std::string>& metadata,
                       const std::function<void(std::size_t, void*)>& fill,
                       const std::function<void(std::size_t)>& after_each) {
  json header = json::object();
  if (!metadata.empty()) {
    json m = json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
    header["__metadata__"] = m;
  }
  std::uint64_t offset = 0;
  std::size_t largest = 0;
  for (const SafetensorsTensor& t : tensors) {
    FERRY_CHECK(!t.name.empty() && t.name != "__metadata__" && !header.contains(t.name),
                "write_safetensors: bad or duplicate tensor name '" + t.name + "'");
    json shape = json::array();
    for (int i = 0; i < t.shape.rank; ++i) shape.push_back(t.shape[i]);
    const std::uint64_t bytes = t.bytes();
    header[t.name] = {{"dtype", safetensors_dtype_name(t.dtype)},
                      {"shape", shape},
                      {"data_offsets", json::array({offset, offset + bytes})}};
    offset += bytes;
    largest = std::max<std::size_t>(largest, bytes);
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // pad so the data starts 8-byte aligned
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>((text.size() >> (8 * i)) & 0xff);

  // Written to a temporary name and renamed at the end: a reader never sees a half-written file,
  // and a checkpoint being exported over itself keeps its mapped inode until it is done.
  const std::string tmp = path + ".partial";
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(tmp.c_str(), "wb"));
  if (!f) write_failed(path, errno);
  bool ok = false;
  struct RemoveOnFailure {
    const std::string& p;
    const bool& ok;
    ~RemoveOnFailure() {
      if (!ok) std::remove(p.c_str());
    }
  } remover{tmp, ok};
  auto put = [&](const void* p, std::size_t n) {
    if (n && std::fwrite(p, 1, n, f.get()) != n) write_failed(path, errno);
  };
  put(len, 8);
  put(text.data(), text.size());
  // One tensor's bytes at a time; float storage keeps the buffer aligned for every dtype.
  std::unique_ptr<float[]> buf(new float[(largest + sizeof(float) - 1) / sizeof(float) + 1]);
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    fill(i, buf.get());
    put(buf.get(), tensors[i].bytes());
    if (after_each) after_each(i);
  }
  if (std::fflush(f.get()) != 0) write_failed(path, errno);
  std::FILE* raw = f.release();
  if (std::fclose(raw) != 0) write_failed(path, errno);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) write_failed(path, errno);
  ok = true;
}

}  // namespace ferry
