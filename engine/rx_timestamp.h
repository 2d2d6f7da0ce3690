// Kernel receive timestamps (SO_TIMESTAMPNS): when the datagram reached the socket, so
// that the time a datagram waited for the loop (a busy or sleeping thread) is out of the
// mesh clock's samples. The kernel stamps CLOCK_REALTIME; the engine runs on
// CLOCK_MONOTONIC. A backend reads both clocks once per receive batch (vDSO, no syscall)
// and converts every stamp of the batch with that difference: realtime is stepped or
// slewed by NTP only, so within a batch the difference holds to well under a
// microsecond. A stamp that converts to the future (a realtime step between stamp and
// batch) is dropped: the datagram then counts as received at the loop's time.
#pragma once

#include <sys/socket.h>

#include <cstring>
#include <ctime>

#include "engine/clock.h"
#include "hana/types.h"

namespace hana::engine {

inline constexpr std::size_t kRxTimestampCmsgSpace = CMSG_SPACE(sizeof(timespec));

class RxClock {
 public:
  // Once per receive batch.
  void refresh() {
    timespec real{};
    clock_gettime(CLOCK_REALTIME, &real);
    now_ = monotonic_now_ns();
    mono_minus_real_ = static_cast<std::int64_t>(now_) - to_ns(real);
  }
  // The engine time of a SCM_TIMESTAMPNS cmsg; 0 if `c` is not one or is implausible.
  TimeNs convert(const cmsghdr* c) const {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS || c->cmsg_len < CMSG_LEN(sizeof(timespec))) return 0;
    timespec ts{};
    std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
    const std::int64_t mono = to_ns(ts) + mono_minus_real_;
    return mono > 0 && static_cast<TimeNs>(mono) <= now_ ? static_cast<TimeNs>(mono) : 0;
  }

 private:
  static std::int64_t to_ns(const timespec& t) {
    return static_cast<std::int64_t>(t.tv_sec) * static_cast<std::int64_t>(kNsPerSec) + t.tv_nsec;
  }
  TimeNs now_ = 0;
  std::int64_t mono_minus_real_ = 0;
};

}  // namespace hana::engine
