// State of the link table: this node's measurement of each link (with the counters it
// is computed from) and what every member reported about its own links. Its code is in
// link_table.cpp (measurement) and link_reports.cpp (reports over the connections,
// links()).
#pragma once

#include <cstdint>
#include <vector>

#include "hana/events.h"
#include "hana/types.h"

namespace hana::topology {

// Ids of mesh-internal messages (link reports): their Delivered/Failed events are the
// mesh's own and never reach the application, whose ids count up from 1.
inline constexpr MessageId kMeshMessageIdBit = MessageId{1} << 63;

// A link as reported by a member (the observer) about one of its peers.
struct RemoteLink {
  NodeId peer = 0;
  LinkQuality quality;
  TimeNs at = 0;
};

// The link table's record of one member (Peer::links). Member::link holds the quality.
struct LinkRecord {
  double probe_rtt_us = 0;          // smoothed over direct probe acks
  std::uint64_t probe_samples = 0;  // direct probe acks timed
  std::uint64_t last_packets_sent = 0;
  std::uint64_t last_packets_lost = 0;
  std::uint64_t last_bytes = 0;
  TimeNs last_link_eval = 0;
  std::uint64_t last_rtt_samples = 0;    // connection RTT samples at the last evaluation
  std::uint64_t last_probe_samples = 0;  // probe_samples at the last evaluation
  TimeNs link_changed_at = 0;
  std::uint64_t link_version = 0;  // version of our last report about this member (0 = none yet)
  bool resend_links = false;       // a link report to it failed: send it the table again
  std::vector<RemoteLink> reported;  // its reports about its peers (it is the observer)
};

struct LinkTable {
  std::uint64_t report_version = 0;  // per-observer increasing version of our link reports
  MessageId next_message_id = kMeshMessageIdBit | 1;
};

}  // namespace hana::topology
