// State of the TCP path component (transport_path.cpp): per member, the UDP path probes
// that look for a way back from its TCP stream to UDP (Peer::path). Which path a member
// is on is Member::over_stream (the public view).
#pragma once

#include <cstdint>

#include "hana/types.h"
#include "topology/backoff.h"
#include "topology/failure_detector.h"

namespace hana::topology {

// The least time between two UDP path probes to one member, however often the member's
// own UDP datagrams hurry the next one (transport_path.cpp, heard_over_udp).
inline constexpr TimeNs kPathProbeGapNs = 50 * kNsPerMs;

struct PathProbe {
  TimeNs next_at = kNever;  // the next UDP path probe (kNever: not on the TCP path, or not auto)
  TimeNs sent_at = 0;       // the last one
  std::uint64_t seq = 0;    // its number (a PING's seq); 0 = none outstanding
  Backoff backoff;          // udp_probe_min_ms doubling to udp_probe_max_ms
  // The last UDP datagram from the member's address (0: none): proof that UDP reaches us
  // from it, so a slow handshake with it is a slow peer, not a blocked path.
  TimeNs udp_heard_at = 0;
};

// A dial falls back to the stream only after this many unanswered UDP handshake
// datagrams, as well as tcp_fallback_ms: a node starved of CPU (a cold start of many
// nodes on a small host) runs its timers late and must not take its own lateness for a
// blocked path.
inline constexpr std::uint32_t kFallbackAttempts = 3;

}  // namespace hana::topology
