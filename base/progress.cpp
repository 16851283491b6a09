#include "base/progress.h"

#include <unistd.h>

#include <cstdio>

#include "base/units.h"

namespace ferry {

bool Progress::stderr_is_tty() { return isatty(STDERR_FILENO) == 1; }

Progress::Progress(std::string label, std::uint64_t total, bool enabled, std::string unit, double delay_s)
    : label_(std::move(label)),
      total_(total),
      enabled_(enabled && stderr_is_tty()),
      unit_(std::move(unit)),
      delay_s_(delay_s),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() { finish(); }

void Progress::advance(std::uint64_t d) { set(done_ + d); }

void Progress::set(std::uint64_t done) {
  done_ = done;
  if (!enabled_ || finished_) return;
  const auto now = std::chrono::steady_clock::now();
  const double since_start = std::chrono::duration<double>(now - start_).count();
  const double since_draw = std::chrono::duration<double>(now - last_draw_).count();
  if (since_start < delay_s_ || (drawn_ && since_draw < 0.1)) return;
  last_draw_ = now;
  draw(false);
}

void Progress::set_label(std::string label) { label_ = std::move(label); }

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (enabled_ && drawn_) {
    done_ = total_;
    draw(true);
    std::fputc('\n', stderr);
  }
}

void Progress::draw(bool final) {
  drawn_ = true;
  const double frac = total_ ? static_cast<double>(done_) / static_cast<double>(total_) : 1.0;
  const int width = 30;
  const int filled = static_cast<int>(frac * width + 0.5);
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.resize(width, '.');
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::string amount;
  if (unit_ == "B") amount = format_bytes(done_) + " / " + format_bytes(total_);
  else amount = std::to_string(done_) + " / " + std::to_string(total_) + " " + unit_;
  char eta[48] = "";
  if (!final && frac > 0.01) std::snprintf(eta, sizeof eta, ", ~%.0f s left", elapsed * (1.0 / frac - 1.0));
  std::fprintf(stderr, "\r%s [%s] %3.0f%% %s (%.1f s%s)\x1b[K", label_.c_str(), bar.c_str(), frac * 100.0,
               amount.c_str(), elapsed, eta);
  std::fflush(stderr);
}

}  // namespace ferry
