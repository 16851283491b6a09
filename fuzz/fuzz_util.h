// Helpers shared by the libFuzzer targets (fuzz/*_fuzz.cpp): a scratch directory for the parsers
// that read files by path, and the rule for what counts as a normal outcome.
#pragma once
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "base/error.h"

namespace ferry::fuzz {

// One private directory per fuzzing process (libFuzzer's -jobs/-workers run several), removed
// at exit. The parsers under test take paths, as the CLI gives them, so each input is written
// to a file here first: under $TMPDIR when set, else in /dev/shm (memory; creating files on a
// disk-backed /tmp made the targets 10-40 times slower), else /tmp.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::error_code ec;
    const std::string base = tmp && *tmp                                  ? tmp
                             : std::filesystem::is_directory("/dev/shm", ec) ? "/dev/shm"
                                                                            : "/tmp";
    std::string tmpl = base + "/ferry-fuzz-XXXXXX";
    if (!mkdtemp(tmpl.data())) std::abort();  // no scratch space: the harness cannot run
    return std::filesystem::path(tmpl);
  }();
  static const struct Cleanup {
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup;
  return dir;
}

// Writes `bytes` to scratch_dir()/rel (creating its folder) and returns the path.
inline std::string write_scratch(const std::string& rel, std::string_view bytes) {
  const std::filesystem::path p = scratch_dir() / rel;
  std::filesystem::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) std::abort();
  return p.string();
}

inline void remove_scratch(const std::string& rel) {
  std::error_code ec;
  std::filesystem::remove(scratch_dir() / rel, ec);
}

// Runs `parse`. BadInput (exit 2) and ResourceExhausted (exit 3) are the documented answers to a
// bad file, so they end the input normally; InternalError, any other exception, a crash, a
// sanitizer report or an allocation above -malloc_limit_mb is a finding.
template <class F>
void expect_typed_errors_only(F&& parse) {
  try {
    parse();
  } catch (const BadInput&) {
  } catch (const ResourceExhausted&) {
  }
}

// A finding that is not a crash: a parser accepted an input but broke its own contract.
#define FERRY_FUZZ_REQUIRE(cond)                                                  \
  do {                                                                            \
    if (!(cond)) {                                                                \
      std::fprintf(stderr, "%s:%d: contract broken: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                               \
    }                                                                             \
  } while (0)

}  // namespace ferry::fuzz
