// Plain counters and gauges, per lane and per connection (peer). Snapshots are copies.
#pragma once

#include <array>
#include <cstdint>

#include "hana/types.h"

namespace hana {

struct LaneStats {
  std::uint64_t messages_sent = 0;      // accepted by send()
  std::uint64_t messages_received = 0;  // delivered to the application
  std::uint64_t bytes_sent = 0;         // payload bytes accepted
  std::uint64_t bytes_received = 0;     // payload bytes delivered
  std::uint64_t delivered = 0;          // Delivered confirmations
  std::uint64_t failed = 0;             // Failed events
  std::uint64_t retransmits = 0;        // frames of this lane sent again
  std::uint64_t duplicates = 0;         // received again and suppressed
  std::uint64_t stale_dropped = 0;      // latest-value / sequenced versions dropped as old
  std::uint64_t coalesced = 0;          // unsent latest-value versions replaced by newer ones
  std::uint64_t queue_depth = 0;        // gauge: messages waiting to be sent
};

struct ConnectionStats {
  std::uint64_t packets_sent = 0;
  std::uint64_t packets_received = 0;
  std::uint64_t bytes_sent = 0;         // datagram bytes
  std::uint64_t bytes_received = 0;
  std::uint64_t packets_lost = 0;       // declared lost by loss detection
  std::uint64_t retransmits = 0;        // frames retransmitted (all lanes)
  std::uint64_t duplicate_packets = 0;
  std::uint64_t bad_packets = 0;        // undecodable datagrams (by reason at the mesh)
  std::uint64_t pto_count = 0;          // probe timeouts fired
  std::uint64_t acks_sent = 0;
  std::uint64_t rtt_smoothed_us = 0;
  std::uint64_t rtt_min_us = 0;
  std::uint64_t rtt_var_us = 0;
  std::uint64_t rtt_latest_us = 0;
  std::uint64_t rtt_samples = 0;         // RTT samples taken; 0: the rtt_* fields are still the initial_rtt_us assumption
  std::uint64_t cwnd_bytes = 0;
  std::uint64_t bytes_in_flight = 0;
  std::uint64_t pacing_rate_bytes_per_sec = 0;
  std::uint64_t congestion_events = 0;  // entries into recovery
  bool in_recovery = false;
  std::uint64_t token_bucket_delays = 0;  // sends held back by the token bucket
  std::uint64_t token_bucket_drops = 0;   // unreliable messages dropped for lack of tokens
  std::uint64_t reassembly_bytes = 0;     // gauge: partial + held-back received bytes
  std::uint64_t resource_limit_closes = 0;  // peer cut off for exceeding reassembly/window limits
  std::uint64_t unexpected_acks = 0;      // ACK frames naming packets never sent (ignored)
  std::uint64_t bad_frames = 0;           // well-formed but inconsistent frames (e.g. fragment totals)
  std::array<LaneStats, kLaneCount> lanes{};
};

}  // namespace hana
