// Typed errors that travel up to the CLI, which maps them to exit codes.
// DESIGN.md: exit 0 success, 2 bad input, 3 resource exhausted, 1 internal error.
// Messages are one line and name the file, tensor, flag or value at fault.
#pragma once
#include <stdexcept>
#include <string>

namespace ferry {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
  virtual int exit_code() const { return 1; }
};

// The user gave something wrong: a file, flag, key, tensor or value. Exit code 2.
class BadInput : public Error {
 public:
  explicit BadInput(const std::string& msg) : Error(msg) {}
  int exit_code() const override { return 2; }
};

// Budget smaller than one layer, out of memory, too many managed bytes. Exit code 3.
class ResourceExhausted : public Error {
 public:
  explicit ResourceExhausted(const std::string& msg) : Error(msg) {}
  int exit_code() const override { return 3; }
};

// A bug or an unexpected system failure. Exit code 1.
class InternalError : public Error {
 public:
  explicit InternalError(const std::string& msg) : Error(msg) {}
};

// Throws InternalError with the location when cond is false (never compiled out).
#define FERRY_CHECK(cond, msg)                                                              \
  do {                                                                                      \
    if (!(cond))                                                                            \
      throw ::ferry::InternalError(std::string(__FILE__) + ":" + std::to_string(__LINE__) + \
                                   ": check failed: " #cond ": " + (msg));                  \
  } while (0)

}  // namespace ferry
