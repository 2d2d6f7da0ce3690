// State of the link table: this node's measurement of each link (with the counters it
// is computed from) and what every member reported about its own links. Its code is in
// link_table.cpp (measurement) and link_reports.cpp (reports over the connections,
// links()).
#pragma once

#include <cstdint>
#include <vector>

#include "hana/events.h"
#include "hana/types.h"
#include "topology/failure_detector.h"  // kNever
#include "topology/link_change.h"

namespace hana::topology {

// Ids of mesh-internal messages (link reports): their Delivered/Failed events are the
// mesh's own and never reach the application, whose ids count up from 1.
inline constexpr MessageId kMeshMessageIdBit = MessageId{1} << 63;

// A link as reported by a member (the observer) about one of its peers.
struct RemoteLink {
  NodeId peer = 0;
  LinkQuality quality;
  TimeNs at = 0;
  std::uint64_t version = 0;  // the observer's report version of this entry (newer wins)
};

// The link table's record of one member (Peer::links). Member::link holds the quality.
struct LinkRecord {
  RttWindow probe_rtt;              // recent direct probe acks (an idle link)
  RttWindow conn_rtt;               // the connection's estimate, once per busy evaluation
  bool busy = false;                // the last evaluation's RTT came from the connection
  bool rtt_settled = false;         // a full window has judged the first (provisional) report
  std::uint64_t probe_samples = 0;  // direct probe acks timed (taken or not: HostLoad)
  std::uint64_t last_packets_sent = 0;
  std::uint64_t last_packets_lost = 0;
  std::uint64_t last_bytes = 0;
  TimeNs last_link_eval = 0;
  std::uint64_t last_rtt_samples = 0;    // connection RTT samples at the last evaluation
  TimeNs link_changed_at = 0;
  std::uint64_t link_version = 0;  // version of our last report about this member (0 = none yet)
  bool in_digest = false;          // changed since the last digest: goes out with the next one
  bool resend_links = false;       // a digest to it failed: send it the table again
  std::vector<RemoteLink> reported;  // its reports about its peers (it is the observer)
};

// Whether this host runs its timers on time: an RTT sample taken while it does not
// measures the host, not the link. On a 100-node mesh of processes sharing two vCPUs the
// cold start saturates the host for ~20 s; links measured then were corrected (each to
// every member) 20-80 s later, and that wave of n^2 reports saturated the host again
// (issue 18: 65 KB/s per node and 19 106 suspect events in a 10 s window 40 s after the
// full view; with this rule 4.4 KB/s and 69).
struct HostLoad {
  static constexpr TimeNs kCalmNs = kNsPerSec;           // no late timer this long before a sample
  static constexpr TimeNs kLoadedForGoodNs = 60 * kNsPerSec;  // late this long: measure anyway
  TimeNs late_at = 0;        // the last timer that ran late (0: none)
  TimeNs loaded_since = 0;   // start of the current run of late timers (none kCalmNs apart)
  void timer_ran(TimeNs due, TimeNs now, TimeNs late_limit_ns) {
    if (late_limit_ns == 0 || now <= due + late_limit_ns) return;
    if (late_at == 0 || now - late_at > kCalmNs) loaded_since = now;
    late_at = now;
  }
  // A sample spanning [start, now] is the link's when no timer ran late from kCalmNs
  // before it began, or when lateness has been this host's normal for a minute.
  bool fair(TimeNs start, TimeNs now) const {
    return late_at == 0 || late_at + kCalmNs <= start || now - loaded_since >= kLoadedForGoodNs;
  }
};

// When the links that changed leave (link_reports.cpp). A change that matters (a first
// measurement, an RTT or loss change) is due at once, but two digests are at least
// link_digest_min_interval_ms apart: at a cold start a node measures its links one by one
// as the connections come up, and one message per member per link was ~19 000 reliable
// messages per node at 100 nodes (issue 18). A correction that only settles a provisional
// first measurement, or a throughput move, waits up to link_correction_delay_ms for company.
enum class LinkUrgency : std::uint8_t { Now, Lazy };

struct LinkTable {
  // Every link is evaluated at the same tick (once per link_report_interval_ms), so all
  // the links that changed in an interval leave in the same digest.
  TimeNs next_eval_at = 0;
  TimeNs digest_due = kNever;      // when the pending changes (LinkRecord::in_digest) leave
  TimeNs last_digest_at = 0;       // 0: none sent yet
  // Members whose links a flush or a table sends (neither runs inside the other): no
  // allocation once warm.
  std::vector<std::uint32_t> scratch_members;
  HostLoad host;
  std::uint64_t report_version = 0;  // per-observer increasing version of our link reports
  MessageId next_message_id = kMeshMessageIdBit | 1;
};

}  // namespace hana::topology
