// The engine's wall clock: steady_clock and seconds since a point on it.
#pragma once
#include <chrono>

namespace ferry {

using Clock = std::chrono::steady_clock;
inline double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

}  // namespace ferry
