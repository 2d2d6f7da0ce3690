// Internal state of topology::Mesh, shared by the mesh_*.cpp files. Not a contract.
//
// How the pieces fit:
//   - Connectionless datagrams (header connection id 0) carry HANDSHAKE, BEACON and
//     GOSSIP frames. All failure detection and membership traffic is GOSSIP in
//     connectionless datagrams, independent of the per-peer Connection: probes must
//     measure the peer, not one connection's retransmission state, and the mesh keeps
//     the byte count of idle traffic under its own control.
//   - Datagrams with a non-zero connection id go to that protocol::Connection.
//   - Outgoing connectionless datagrams are queued as small descriptors (OutItem) and
//     encoded straight into the caller's buffer in poll_transmit, so that piggybacked
//     gossip is chosen at the last moment and nothing is copied.
#pragma once

#include <array>
#include <deque>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "protocol/codec.h"
#include "protocol/connection.h"
#include "protocol/ring.h"
#include "topology/backoff.h"
#include "topology/bodies.h"
#include "topology/cookie.h"
#include "topology/election.h"
#include "topology/membership.h"
#include "topology/mesh.h"
#include "topology/rng.h"

namespace hana::topology {

inline constexpr TimeNs kNever = ~TimeNs{0};

// A node bound to 0.0.0.0 / :: announces an unspecified address; the sender's source
// address (with the announced port) is the one that reaches it.
inline bool unspecified(const Address& a) {
  for (std::size_t i = 0; i < (a.family == 6 ? 16u : 4u); ++i)
    if (a.ip[i] != 0) return false;
  return true;
}
// The wire carries no IPv6 scope (it is local to each host): a link-local address heard
// from `from` is on the link `from` came in on, so it takes that scope.
inline Address scoped_like(Address a, const Address& from) {
  if (a.scope_id == 0 && a.needs_scope() && from.family == 6) a.scope_id = from.scope_id;
  return a;
}
inline Address reachable(const Address& announced, const Address& from) {
  if (announced.port == 0) return from;
  if (!unspecified(announced)) return scoped_like(announced, from);
  Address a = from;
  a.port = announced.port;
  return a;
}
inline constexpr std::size_t kMaxOutItems = 16'384;
inline constexpr std::size_t kMaxConfirmations = 8;
inline constexpr std::size_t kMaxIndirect = 16;
// Ids of mesh-internal messages (link reports): their Delivered/Failed events are the
// mesh's own and never reach the application, whose ids count up from 1.
inline constexpr MessageId kMeshMessageIdBit = MessageId{1} << 63;

// A link as reported by a member (the observer) about one of its peers.
struct RemoteLink {
  NodeId peer = 0;
  LinkQuality quality;
  TimeNs at = 0;
};

// Per-member state that is not part of the public Member view (same index as members_).
struct Peer {
  std::unique_ptr<protocol::Connection> conn;
  std::uint32_t local_cid = 0;
  std::uint32_t remote_cid = 0;
  TimeNs conn_deadline = kNever;  // cached conn->next_timeout()
  bool up_reported = false;       // PeerUp emitted since the last down
  // May become coordinator. Unknown counts as no: a node whose eligibility has not
  // reached us must not hold up the election (see elect()). The member itself tells us
  // when a connection to it is made (introduce), and in its Alive updates and beacons.
  bool eligible = false;
  bool tx_dirty = false, ev_dirty = false, dl_dirty = false;
  NodeId declared_by = 0;         // Suspect/Dead: who declared it
  TimeNs suspicion_start = 0;
  TimeNs suspicion_deadline = kNever;
  std::uint32_t confirmations = 0;
  std::array<NodeId, kMaxConfirmations> confirmers{};
  TimeNs state_since = 0;
  TimeNs last_heard = 0;
  TimeNs next_notice_at = 0;     // rate limit of "you are suspected/dead" notices to it
  std::uint64_t display_version = 0;
  std::vector<Display> announced_displays;  // as the member last announced them (Member.displays masks them while Dead/Left)
  TimeNs next_dial_at = 0;       // reconnect schedule (when not connected)
  Backoff reconnect;
  // link quality bookkeeping
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

// A handshake in progress that we initiated.
struct Dial {
  Address to;
  NodeId node = 0;  // 0 = unknown (a seed)
  std::uint32_t cid = 0;
  bool have_cookie = false;
  Cookie cookie{};
  TimeNs cookie_at = 0;
  TimeNs next_at = 0;
  Backoff backoff;
  bool refused = false;
};

enum class OutType : std::uint8_t { Gossip, Handshake, Refuse, Beacon, Sync };
enum class Entry : std::uint8_t { State, Displays, Coordinator };

struct OutItem {
  OutType type = OutType::Gossip;
  Address to;
  // Gossip
  GossipHeader gossip;
  bool has_subject = false;  // an update that must be in this datagram (event push)
  NodeId subject = 0;
  Entry subject_entry = Entry::State;
  NodeId subject_from = 0;   // Suspect subject: the confirming node, if not the original suspector
  bool piggyback = true;     // fill the rest with queued gossip
  // Handshake / Refuse
  protocol::HandshakeKind hkind = protocol::HandshakeKind::Hello;
  std::uint32_t cid = 0;  // Handshake: our cid; Refuse: header cid (the initiator's)
  bool with_cookie = false;
  Cookie cookie{};
  protocol::CloseReason reason = protocol::CloseReason::PeerLimit;
  // Sync: next member index to write (members_.size() = self record, +1 = self displays, +2 = coordinator)
  std::uint32_t cursor = 0;
};

struct GossipEntry {
  NodeId node = 0;
  Entry entry = Entry::State;
  std::uint32_t left = 0;  // transmissions left
};

struct Probe {
  NodeId target = 0;
  std::uint64_t incarnation = 0;  // a failed probe only suspects the incarnation it probed
  std::uint64_t seq = 0;
  TimeNs sent = 0;
  TimeNs direct_deadline = kNever;
  TimeNs end = kNever;
  bool active = false;
  bool acked = false;
  bool indirect_sent = false;
};

struct Mesh::Impl {
  Impl(const Config& config, Identity self, std::uint64_t seed, TimeNs now);

  // ---- configuration
  Config config;
  Config conn_config;  // config with the connection-level liveness knobs overridden
  Identity self;
  Rng rng;
  CookieJar cookies;
  RateLimiter handshake_limiter;
  TimeNs started_at;

  // ---- membership view
  std::vector<Member> members;
  std::vector<Peer> peers;
  std::unordered_map<NodeId, std::uint32_t> index;
  std::unordered_map<std::uint32_t, NodeId> by_cid;
  std::uint64_t incarnation = 0;
  std::uint64_t display_version = 1;
  bool leaving = false;
  Election election;
  TimeNs vacancy_grace_until = 0;  // no claim before this (see observe_claim)

  // ---- failure detector
  Probe probe;
  TimeNs next_probe_at = 0;
  std::vector<NodeId> probe_order;
  std::size_t probe_pos = 0;
  std::uint64_t next_seq = 1;
  std::uint32_t local_health = 0;  // Lifeguard local health multiplier (0..8)
  TimeNs last_gossip_rx = 0;       // any gossip received (evidence our own link works)
  std::vector<GossipEntry> gossip;

  // ---- handshakes, discovery
  std::vector<Address> seeds;
  std::vector<Dial> dials;
  std::optional<Address> beacon_target;
  TimeNs next_beacon_at = kNever;

  // ---- output and events
  // Rings grow to their high-water mark and then never allocate again (a std::deque
  // would allocate and free blocks as probes come and go).
  protocol::Ring<OutItem> out{256};
  protocol::Ring<MeshEvent> events{64};
  std::vector<NodeId> event_dirty;     // members whose connection may have events
  std::vector<NodeId> transmit_dirty;  // members whose connection may have datagrams
  struct Retired {
    NodeId peer = 0;
    Address to;
    std::unique_ptr<protocol::Connection> conn;
    bool tx_done = false;
  };
  std::deque<Retired> retired;  // aborted/closed connections still holding events
  std::vector<std::uint8_t> scratch;  // gossip body being built
  MessageId next_message_id = 1;
  MessageId next_mesh_message_id = kMeshMessageIdBit | 1;
  std::uint64_t link_report_version = 0;  // per-observer increasing version of our link reports
  TimeNs deadline = kNever;  // cached next_timeout()
  TimeNs last_now = 0;
  std::vector<NodeId> deadline_dirty;
  TimeNs next_maintenance_at = 0;
  MeshCounters counters;

  // ---- mesh.cpp
  void recompute_deadline();
  void apply_config(const Config& c);
  std::size_t live_members() const;
  Member* find(NodeId id);
  Peer* peer_of(NodeId id);
  std::uint32_t add_member(NodeId id, const Address& address, std::uint64_t inc, TimeNs now);
  void reap(TimeNs now);
  void push_out(OutItem item);
  std::size_t encode_out(const OutItem& item, MutableBytes buffer, TimeNs now);
  void maintenance(TimeNs now);

  // ---- mesh_swim.cpp: probes, gossip, state changes, election
  void on_gossip(const Address& from, Bytes body, TimeNs now);
  void probe_tick(TimeNs now);
  void apply_update(Update u, NodeId via, const Address& from, TimeNs now);
  void set_state(std::uint32_t i, MemberState state, std::uint64_t inc, NodeId by, TimeNs now);
  void refute(std::uint64_t seen_inc, TimeNs now);
  void refresh_displays(std::uint32_t i);
  void check_suspicions(TimeNs now);
  void enqueue_gossip(NodeId node, Entry entry);
  void push_to_all(NodeId subject, Entry entry, bool include_dead, NodeId from = 0);
  void send_gossip(const Address& to, const GossipHeader& h);
  void notice(std::uint32_t i, TimeNs now);
  bool make_update(NodeId node, Entry entry, Update& u) const;
  std::size_t write_updates(BodyWriter& w, std::size_t count_at, std::size_t budget, const OutItem& item);
  void elect(TimeNs now);
  void observe_claim(const Claim& c, TimeNs now);
  TimeNs scaled(TimeNs t) const { return t * (1 + local_health); }
  TimeNs probe_interval_ns() const { return config.probe_interval_ms * kNsPerMs; }

  // ---- mesh_links.cpp: handshakes, connections, beacons, link quality
  void on_handshake(const Address& from, const protocol::HandshakeFrame& h, TimeNs now);
  void on_beacon(const Address& from, Bytes body, TimeNs now);
  void on_refuse(const Address& from, std::uint32_t cid, protocol::CloseReason reason, TimeNs now);
  void start_dial(const Address& to, NodeId node, TimeNs now);
  void dial_tick(TimeNs now);
  void install_connection(std::uint32_t i, std::uint32_t local_cid, std::uint32_t remote_cid, TimeNs now);
  void drop_connection(std::uint32_t i, std::optional<FailReason> abort_reason, TimeNs now);
  void connection_touched(NodeId id);
  void maybe_peer_up(std::uint32_t i);
  std::uint32_t fresh_cid();
  void evaluate_links(TimeNs now);

  // ---- mesh_link_reports.cpp: link quality disseminated over the connections
  void report_link(std::uint32_t i, TimeNs now);  // our link to member i changed
  void send_link_table(std::uint32_t to, TimeNs now);
  bool send_link_report(std::uint32_t to, std::uint32_t about, TimeNs now);
  void on_mesh_message(std::uint32_t from, const protocol::ReceivedEvent& r, TimeNs now);
  void on_mesh_outcome(std::uint32_t i, const protocol::ConnectionEvent& e);
  // Member i is Dead/Left: drop its reports and our own measurement of it. Reports of
  // others about it stay (hidden by links() while it is not live): an observer that
  // still holds it Alive would never send them again after a transient Dead here.
  void forget_links(std::uint32_t i);
  void forget_links_about(NodeId id);  // member reaped: no observer's report about it is kept
  Dial* dial_to(const Address& to);
  void cancel_dial(const Address& to);
  bool should_dial(std::uint32_t i, TimeNs now) const;
  void reconcile(std::uint32_t i, const Address& from, std::uint64_t inc, TimeNs now);
  // The member a completed handshake is with: found (and reconciled) or added; ~0u when
  // the view is full. `sync` says whether to push it our view.
  std::uint32_t admit(const protocol::HandshakeFrame& h, const Address& from, TimeNs now, bool& sync);
  void send_accept(const Address& to, std::uint32_t local_cid);
  // Our records to a peer we just connected to: the full view (`sync`) or our own ones.
  void introduce(const Address& to, bool sync);
};

}  // namespace hana::topology
