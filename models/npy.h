// A tiny reader/writer of NumPy .npy files (format 1.0-3.0, numpy.lib.format), float32 2-D only:
// enough for --logits-out and the golden test data.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ferry {

struct NpyF32 {
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::vector<float> data;  // [rows, cols], row-major
};

// Writes data[rows, cols] as '<f4', C order. Throws BadInput naming the file when it cannot.
void write_npy_f32(const std::string& path, const float* data, std::int64_t rows, std::int64_t cols);
// Reads a 2-D little-endian float32 C-order array; BadInput naming the file for anything else.
NpyF32 read_npy_f32(const std::string& path);

}  // namespace ferry
