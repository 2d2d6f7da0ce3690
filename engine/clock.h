// The engine's one clock: CLOCK_MONOTONIC in nanoseconds. Read once per loop turn and
// passed down as a TimeNs parameter (the sans-IO layers never read a clock).
#pragma once

#include <ctime>

#include "hana/types.h"

namespace hana::engine {

inline TimeNs monotonic_now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<TimeNs>(ts.tv_sec) * kNsPerSec + static_cast<TimeNs>(ts.tv_nsec);
}

// Wall clock minus monotonic clock, now: what the mesh adds to its monotonic `now` to
// compare times with other hosts (the freshness of sealed datagrams).
inline std::int64_t wall_offset_ns() {
  timespec wall{};
  clock_gettime(CLOCK_REALTIME, &wall);
  const auto wall_ns = static_cast<std::int64_t>(wall.tv_sec) * static_cast<std::int64_t>(kNsPerSec) + wall.tv_nsec;
  return wall_ns - static_cast<std::int64_t>(monotonic_now_ns());
}

}  // namespace hana::engine
