// State of the SWIM failure detector and the membership gossip queue (component (a) of
// the mesh; its code is in failure_detector.cpp and gossip.cpp, the merge rules in
// membership.h).
//
// Mesh clock seam: probes and their acks are timed in one place, the Ack case of
// Mesh::Impl::on_gossip (failure_detector.cpp), which today feeds the probe RTT to the
// link table. A clock-offset sample from the probe's timestamps lands there too, and
// the per-member estimate beside Health.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "hana/types.h"
#include "topology/outbox.h"

namespace hana::topology {

inline constexpr TimeNs kNever = ~TimeNs{0};
inline constexpr std::size_t kMaxConfirmations = 8;
inline constexpr std::size_t kMaxIndirect = 16;
inline constexpr std::uint32_t kMaxLocalHealth = 8;  // Lifeguard's local health multiplier is 0..8

// The failure detector's record of one member (Peer::health).
struct Health {
  NodeId declared_by = 0;         // Suspect/Dead: who declared it
  TimeNs suspicion_start = 0;
  TimeNs suspicion_deadline = kNever;
  std::uint32_t confirmations = 0;
  std::array<NodeId, kMaxConfirmations> confirmers{};
  TimeNs state_since = 0;
  TimeNs last_heard = 0;
  TimeNs next_notice_at = 0;     // rate limit of "you are suspected/dead" notices to it
  TimeNs revived_at = 0;         // when it last came back from Dead/Left to Alive (0: never)
  std::uint64_t visited_round = 0;  // the probe round (FailureDetector::round) that last visited it
};

// A Dead verdict whose declarer we held Dead ourselves, or took back from Dead this
// recently, was reached on the other side of a partition that is healing (gossip.cpp).
inline constexpr TimeNs kHealingWindowNs = 2 * kNsPerSec;

// The probe in flight (one per probe period).
struct Probe {
  NodeId target = 0;
  std::uint64_t incarnation = 0;  // a failed probe only suspects the incarnation it probed
  std::uint64_t seq = 0;
  TimeNs sent = 0;
  // The last PING of this probe (the second direct try resends it): an ack is timed from
  // it, so a lost first PING does not read as a slow answer.
  TimeNs last_ping = 0;
  TimeNs direct_deadline = kNever;
  TimeNs end = kNever;
  bool active = false;
  bool acked = false;
  bool indirect_sent = false;
};

// A membership change waiting to be piggybacked `left` more times.
struct GossipEntry {
  NodeId node = 0;
  Entry entry = Entry::State;
  std::uint32_t left = 0;  // transmissions left
};

inline constexpr std::uint64_t kMaxProbeSeq = 127;

// How long this node's probes wait for an ack, learned from the acks themselves (every
// timed direct ack, and the ack of a probe already judged that comes after all): srtt +
// 4 rttvar, or probe_timeout_ms when that is longer. On a LAN of healthy hosts acks come in
// well under a millisecond and the knob stands. On a starved host (100 processes on 2
// vCPUs) an answer waits tens to hundreds of milliseconds for the CPU: a fixed 10 ms window
// made every such wait a suspicion, every suspicion a Dead, a torn-down connection and a
// re-handshake, and their CPU made the next waits longer (the 100-node mesh never
// settled). A longer wait also stretches the probe period (a probe is judged before the
// next goes), so a slow host probes less and the loop damps itself.
// It rises as RFC 6298's estimator does, but falls fast: an ack quicker than srtt halves
// both terms. With RFC 6298's 7/8 per sample, and few samples while the period was
// stretched, 100 nodes still probed every few seconds minutes after their cold start.
// Without samples it holds (a member whose answers are slow stays slow until shown
// otherwise).
struct AckWait {
  static constexpr TimeNs kMaxAckWaitNs = kNsPerSec;  // a dead member is still found within seconds
  TimeNs srtt = 0;  // 0: no sample yet
  TimeNs rttvar = 0;
  void add(TimeNs rtt);
  TimeNs wait(TimeNs floor) const { return srtt == 0 ? floor : std::max(floor, std::min(srtt + 4 * rttvar, kMaxAckWaitNs)); }
};

struct FailureDetector {
  Probe probe;
  TimeNs next_probe_at = 0;
  std::vector<NodeId> probe_order;  // shuffled rotation of members
  std::size_t probe_pos = 0;
  std::uint64_t round = 1;          // probe rounds started (Health::visited_round)
  std::uint32_t free_ticks = 0;     // periods without a probe due at the round's end (credit_visit)
  NodeId hint = 0;  // probed next, out of turn and even if heard from (its TCP stream closed)
  // Probe numbers cycle through 1..kMaxProbeSeq: one probe is outstanding at a time, so
  // a number only has to differ from the last few (an ack 127 probes late, >= 6 s, is not
  // taken for the current one unless the same member answers it), and stays a one-byte
  // varint in every PING and ACK. 0 is the clock ping's (mesh_clock.cpp).
  std::uint64_t next_seq = 1;
  AckWait ack_wait;
  // The last probe judged without its ack: an ack that comes for it later is a sample of
  // how long acks take now (AckWait), the one a window too short never sees.
  NodeId missed_target = 0;
  std::uint64_t missed_seq = 0;
  TimeNs missed_last_ping = 0;
  std::uint32_t local_health = 0;  // Lifeguard local health multiplier (0..kMaxLocalHealth)
  TimeNs last_gossip_rx = 0;       // any gossip received (evidence our own link works)
  std::vector<GossipEntry> gossip;  // the gossip queue
};

}  // namespace hana::topology
