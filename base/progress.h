// A progress bar on stderr for long work (loading, exporting, grids). Silent when disabled,
// when stderr is not a terminal, or until the work has taken more than `delay_s` seconds.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace ferry {

class Progress {
 public:
  // total: units of work (bytes, points); unit: "B" prints sizes, anything else prints counts.
  Progress(std::string label, std::uint64_t total, bool enabled, std::string unit = "B", double delay_s = 0.5);
  ~Progress();  // finishes the line if anything was drawn
  void advance(std::uint64_t done_delta);
  void set(std::uint64_t done);
  void set_label(std::string label);
  void finish();
  static bool stderr_is_tty();

 private:
  void draw(bool final);
  std::string label_;
  std::uint64_t total_;
  std::uint64_t done_ = 0;
  bool enabled_;
  std::string unit_;
  double delay_s_;
  bool drawn_ = false;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace ferry
