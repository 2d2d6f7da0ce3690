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

}  // namespace hana::engine
