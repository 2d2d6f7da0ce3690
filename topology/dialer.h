// State of the dialer: handshakes we initiate (with their cookies and backoff), seeds,
// beacons, and each member's reconnect schedule. Its code is in dialer.cpp; the cookie
// and the rate limiter in cookie.h, the backoff in backoff.h.
//
// Authentication seam (handshake): a peer is admitted in Mesh::Impl::on_handshake
// (dialer.cpp) — HelloCookie on the responder, Accept on the initiator — just before
// install_connection; proving a key belongs there, and deriving the connection's
// datagram key next to install_connection.
#pragma once

#include <optional>
#include <vector>

#include "hana/address.h"
#include "hana/types.h"
#include "topology/backoff.h"
#include "topology/cookie.h"
#include "topology/failure_detector.h"

namespace hana::topology {

// A handshake in progress that we initiated.
struct Dial {
  Address to;
  NodeId node = 0;  // 0 = unknown (a seed)
  std::uint32_t cid = 0;
  bool have_cookie = false;
  Cookie cookie{};
  TimeNs cookie_at = 0;
  TimeNs next_at = 0;
  TimeNs sent_at = 0;  // the last Hello / HelloCookie (0: none yet)
  Backoff backoff;
  bool refused = false;
  // Started by a beacon of a node not in the view: gives up after
  // kDiscoveryDialAttempts handshake datagrams, so beacons naming unreachable
  // addresses cannot keep the dialer busy for good.
  bool discovery = false;
  std::uint32_t attempts = 0;
  // The TCP path: when the dial started, and whether its handshake datagrams also go over
  // a TCP stream to `to` (transport = auto: after tcp_fallback_ms unanswered, or at once
  // for a member already on the stream, or when an answer came over the stream).
  TimeNs started_at = 0;
  // The dial's start or its last sign of life from the member (hurry): a dial to a member
  // held Dead goes quiet reconnect_backoff_max_ms after it (dial_held).
  TimeNs lively_at = 0;
  bool via_stream = false;
  bool udp_answered = false;  // a Retry came back over UDP: the round trip works there
};

// A beacon is only a hint: its dial gets this many Hellos before it is dropped, and at
// most max_peers discovery dials run at once (the rest of the beacons are ignored).
inline constexpr std::uint32_t kDiscoveryDialAttempts = 6;

// A node's first beacons after it starts beaconing go this many at an eighth of
// beacon_interval_ms (dialer.cpp, beacon_tick).
inline constexpr std::uint32_t kStartupBeacons = 3;

// answer_beacon's spacing: at most one out-of-period beacon this often (dialer.cpp).
inline constexpr TimeNs kBeaconAnswerSpacing = 125 * kNsPerMs;

// The dialer's record of one member (Peer::redial): when to dial it again.
struct Redial {
  TimeNs next_dial_at = 0;
  Backoff reconnect;
};

struct Dialer {
  Dialer(std::uint64_t cookie_secret, TimeNs cookie_lifetime_ns, std::uint32_t handshake_rate_per_sec)
      : cookies(cookie_secret, cookie_lifetime_ns),
        handshake_limiter(handshake_rate_per_sec),
        cookie_limiter(handshake_rate_per_sec),
        source_limiter(handshake_rate_per_sec),
        dial_limiter(handshake_rate_per_sec) {}
  CookieJar cookies;
  // Admission of handshakes and beacons (dialer.cpp, admit_handshake): a Hello or a
  // beacon passes its source host's bucket, then the node's; a HelloCookie with a valid
  // cookie skips both (a flood of new Hellos cannot starve a joiner halfway through) and
  // passes a bucket of its own, so a replayed cookie cannot flood either.
  RateLimiter handshake_limiter;
  RateLimiter cookie_limiter;
  SourceLimiter source_limiter;
  std::vector<Address> seeds;
  std::vector<Dial> dials;
  RateLimiter dial_limiter;  // handshake datagrams we send (dial_rate_per_sec)
  std::optional<Address> beacon_target;
  TimeNs next_beacon_at = kNever;
  std::uint32_t beacons_sent = 0;
  TimeNs beacon_heard_at = 0;  // another node's beacon last reached us (0: never)
  TimeNs last_beacon_at = 0;  // valid once beacons_sent > 0 (answer_beacon's spacing)
};

}  // namespace hana::topology
