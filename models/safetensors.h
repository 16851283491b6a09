// The safetensors format (https://github.com/huggingface/safetensors, "Format" in its README):
//   8 bytes: N, the header length, little-endian u64
//   N bytes: JSON {name: {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
//                  "__metadata__": {string: string}}
//   the data; offsets are relative to the first byte after the header.
// SafetensorsFile maps a file and validates it strictly on open; write_safetensors streams one.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/dtype.h"
#include "base/tensor.h"
#include "memory/mapped_file.h"

namespace ferry {

struct SafetensorsEntry {
  std::string name;
  std::string dtype;                // the file's dtype string: "F32", "F16", "BF16", "BOOL", "U8", ...
  std::vector<std::int64_t> shape;  // any rank (rank 0 = scalar)
  std::uint64_t begin = 0;          // byte offsets relative to the start of the data
  std::uint64_t end = 0;

  std::int64_t numel() const;  // overflow-checked: BadInput naming the tensor when it does not fit
  std::string shape_str() const;  // "[3, 96]"
};

// Size in bytes of one element of a safetensors dtype string; 0 when the string is not one.
std::size_t safetensors_dtype_size(const std::string& dtype);
// "F32" / "F16" / "BF16" for the floating-point types ferry reads and writes.
const char* safetensors_dtype_name(DType t);

class SafetensorsFile {
 public:
  // Maps and validates `path`; throws BadInput naming the file (and the tensor) when the file is
  // short, the header is not valid JSON of the right form, a dtype is unknown, a byte size does not
  // match its shape, offsets fall outside the data, or two tensors overlap.
  static SafetensorsFile open(const std::string& path);

  const std::string& path() const { return file_.path(); }
  const std::vector<SafetensorsEntry>& tensors() const { return entries_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const SafetensorsEntry* find(const std::string& name) const;  // null when absent
  const std::byte* data(const SafetensorsEntry& e) const { return data_ + e.begin; }
  std::uint64_t data_offset() const { return 8 + header_len_; }  // file offset of the data

  // Converts entry `e` (F32, F16 or BF16) into dst (numel elements of dst_dtype), in parallel.
  // Throws BadInput naming the file and tensor for any other dtype.
  void read(const SafetensorsEntry& e, DType dst_dtype, void* dst) const;

 private:
  MappedFile file_;
  const std::byte* data_ = nullptr;
  std::uint64_t header_len_ = 0;
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, std::size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// One tensor to write: written in the order given, without gaps.
struct SafetensorsTensor {
  std::string name;
  DType dtype = DType::F32;  // F32, F16 or BF16
  Shape shape;
  std::size_t bytes() const { return static_cast<std::size_t>(shape.numel()) * dtype_size(dtype); }
};

// Writes `path`: computes the header from the list first, then, tensor by tensor, calls
// fill(i, dst) to fill the bytes of tensors[i] (dst holds tensors[i].bytes() bytes) and writes them,
// so only one tensor is in memory at a time. after_each(i), if given, runs after tensor i is on
// its way to disk (for progress). The bytes go to `path`.partial, renamed to `path` when complete.
// Throws BadInput naming the file when it cannot be written, ResourceExhausted when the disk is full.
void write_safetensors(const std::string& path, const std::vector<SafetensorsTensor>& tensors,
                       const std::map<std::string, std::string>& metadata,
                       const std::function<void(std::size_t index, void* dst)>& fill,
                       const std::function<void(std::size_t index)>& after_each = {});

}  // namespace ferry
