// Internal state of topology::Mesh: the router and the components it routes to. Not a
// contract.
//
// Mesh (mesh.cpp) is the poll API and the router: it decodes every datagram once and
// hands it to the component it is for, drives the components' timers, and drains their
// output and events. Each component keeps its state in its own struct and its
// per-member record in Peer, and its code in its own file:
//
//   component                              state (header)              code
//   membership and failure detection       FailureDetector, Health     failure_detector.cpp,
//     (probes, suspicion, gossip queue)      (failure_detector.h)        gossip.cpp, members.cpp
//   dialer and handshake (dials, cookies,  Dialer, Redial (dialer.h)   dialer.cpp
//     backoff, beacons)
//   connections to members                 Connections, Session (here) connections.cpp
//   link table (records and reports)       LinkTable, LinkRecord       link_table.cpp,
//                                            (link_table.h)              link_reports.cpp
//   election                               ElectionState (election.h)  election.cpp
//   displays                               AnnouncedDisplays           displays.cpp
//                                            (displays.h)
//   outgoing connectionless datagrams      OutItem (outbox.h)          outbox.cpp
//   mesh clock (peer offsets, mesh time)   PeerClock (clock_sync.h),   mesh_clock.cpp
//                                            MeshClock (mesh_time.h)
//   the TCP path (which path each member  PathProbe                   transport_path.cpp
//     is sent on, UDP path probes)          (transport_path.h)
//
// The components are not separate objects yet: their functions are members of Impl and
// call each other directly (a member declared Dead drops its connection, forgets its
// links, masks its displays and may trigger an election). Authentication (auth.h) sits
// at the router's two ends: Mesh::on_datagram opens every datagram before routing it,
// Mesh::poll_transmit seals every datagram (the outbox's and the connections') after
// poll_plain wrote it. The mesh clock: timestamps go on every direct Ping/Ack
// (failure_detector.cpp calls mesh_clock.cpp), kernel receive times come in with the
// datagram (on_datagram).
//
// Traffic: connectionless datagrams (header connection id 0) carry HANDSHAKE, BEACON and
// GOSSIP frames. All failure detection and membership traffic is GOSSIP in connectionless
// datagrams, independent of the per-peer Connection: probes must measure the peer, not
// one connection's retransmission state, and the mesh keeps the byte count of idle
// traffic under its own control. Datagrams with a non-zero connection id go to that
// protocol::Connection.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "protocol/codec.h"
#include "protocol/connection.h"
#include "protocol/ring.h"
#include "protocol/shared_payloads.h"
#include "topology/bodies.h"
#include "topology/clock_sync.h"
#include "topology/dialer.h"
#include "topology/displays.h"
#include "topology/election.h"
#include "topology/failure_detector.h"
#include "topology/link_table.h"
#include "topology/membership.h"
#include "topology/mesh.h"
#include "topology/mesh_time.h"
#include "topology/outbox.h"
#include "topology/rng.h"
#include "topology/transport_path.h"

namespace hana::topology {

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

// The connection to one member (Peer::session), and whether the router must ask it
// for datagrams, events or its deadline.
struct Session {
  std::unique_ptr<protocol::Connection> conn;
  std::uint32_t local_cid = 0;
  std::uint32_t remote_cid = 0;
  TimeNs conn_deadline = kNever;  // cached conn->next_timeout()
  bool up_reported = false;       // PeerUp emitted since the last down
  std::uint64_t newest_seal = 0;  // keyed mesh: the highest seal counter the peer's connection datagrams carried
  bool tx_dirty = false, ev_dirty = false, dl_dirty = false;
  // The first datagram from the member for a connection id we do not know, since this
  // connection was installed (0: none): see on_stray_datagram.
  TimeNs stray_since = 0;
};

// A member that keeps sending to a connection id we do not know, for this long, while we
// hold a connection with it, holds another connection than ours (two handshakes crossed
// in a starved cold start): ours is dropped and redialed, which gives both one pair again.
// Longer than a replaced connection's datagrams stay in flight.
inline constexpr TimeNs kStrayGraceNs = kNsPerSec;

// A connection that ended (closed, aborted, replaced) but still holds events for the
// application or a CLOSE to send.
struct RetiredConnection {
  NodeId peer = 0;
  Address to;
  std::unique_ptr<protocol::Connection> conn;
  bool tx_done = false;
  bool over_stream = false;  // its member's path when it retired
};

// The connections component's state (connections.cpp): which member a connection id
// belongs to, which connections the router must poll, and the retired ones.
struct Connections {
  std::unordered_map<std::uint32_t, NodeId> by_cid;
  std::vector<NodeId> transmit_dirty;  // members whose connection may have datagrams
  std::vector<NodeId> event_dirty;     // members whose connection may have events
  std::vector<NodeId> deadline_dirty;  // members whose connection's deadline may have moved
  std::deque<RetiredConnection> retired;
};

// Per-member state that is not part of the public Member view (same index as members):
// one record per component.
struct Peer {
  Session session;             // connections.cpp
  Health health;               // failure_detector.cpp
  Redial redial;               // dialer.cpp
  LinkRecord links;            // link_table.cpp, link_reports.cpp
  AnnouncedDisplays announced; // displays.cpp
  PeerClock clock;             // mesh_clock.cpp
  PathProbe path;              // transport_path.cpp
  // May become coordinator (election.cpp). Unknown counts as no: a node whose
  // eligibility has not reached us must not hold up the election. The member itself
  // tells us when a connection to it is made (introduce), and in its Alive updates and
  // beacons.
  bool eligible = false;
};

struct Mesh::Impl {
  Impl(const Config& config, Identity self, std::uint64_t seed, TimeNs now, Sealing sealing);

  // ---- configuration and identity
  Config config;
  Config conn_config;  // config with the connection-level liveness knobs overridden
  Identity self;
  Rng rng;
  TimeNs started_at;
  std::uint64_t incarnation = 0;
  bool leaving = false;
  // Sealing of every datagram in and out (auth.cpp); null: the mesh is unauthenticated.
  std::unique_ptr<Auth> auth;
  // Largest plain datagram the mesh writes, and a connection until path-MTU discovery
  // proves more: base_datagram_bytes (at most max_datagram_bytes), less the room sealing
  // needs.
  std::size_t datagram_budget() const;

  // Reassembly memory of all connections (node_reassembly_limit_bytes); declared before
  // the members and connections, which report to it until they are destroyed.
  protocol::ReassemblyBudget reassembly_budget;
  // Outgoing message bytes of all connections: a broadcast is one payload referenced by
  // every connection it is queued on. Declared before the connections, which hold
  // references until they are destroyed.
  protocol::SharedPayloads payloads;

  // ---- the member table (members.cpp): the public view and one Peer per member
  std::vector<Member> members;
  std::vector<Peer> peers;
  std::unordered_map<NodeId, std::uint32_t> index;

  // ---- component state
  Dialer dialer;          // must follow rng: its cookie secret is drawn from it
  FailureDetector fd;
  LinkTable link_table;
  ElectionState election;
  std::uint64_t display_version = 1;  // of this node's own displays (displays.cpp)
  Connections conns;
  MeshClock clock;

  // ---- output and events (mesh.cpp, outbox.cpp)
  // Rings grow to their high-water mark and then never allocate again (a std::deque
  // would allocate and free blocks as probes come and go).
  protocol::Ring<OutItem> out{256};
  protocol::Ring<MeshEvent> events{64};
  std::vector<std::uint8_t> scratch;  // gossip body being built
  MessageId next_message_id = 1;
  // next_timeout(), cached. Recomputed lazily when read after a change: a loop turn
  // changes it several times (each datagram in or out, each send) and reads it once or
  // twice, and the recomputation walks every member.
  TimeNs deadline = kNever;
  bool deadline_stale = true;
  TimeNs last_now = 0;
  protocol::Connection* lent_from = nullptr;  // whose MessageReceived poll_event returned last
  TimeNs rx_at = 0;  // when the datagram being handled arrived (engine clock)
  Path rx_path = Path::Udp;  // and on which path (replies to it go back there)
  TimeNs next_maintenance_at = 0;
  TimeNs next_view_check_at = 0;
  MeshCounters counters;
  std::vector<TimeNs> reap_scratch;  // reap(): times Dead/Left members changed state

  // ---- mesh_impl.cpp: construction, knobs, timers
  void apply_config(const Config& c);
  void deadline_changed() { deadline_stale = true; }  // the next current_deadline() recomputes
  TimeNs current_deadline();
  void maintenance(TimeNs now);

  // ---- members.cpp: the member table
  std::size_t live_members() const;
  Member* find(NodeId id);
  Peer* peer_of(NodeId id);
  std::uint32_t add_member(NodeId id, const Address& address, std::uint64_t inc, TimeNs now);
  void reap(TimeNs now);
  void set_state(std::uint32_t i, MemberState state, std::uint64_t inc, NodeId by, TimeNs now);
  void reconcile(std::uint32_t i, const Address& from, std::uint64_t inc, TimeNs now);

  // ---- view_check.cpp: anti-entropy of the member list
  GossipHeader view_header(std::uint64_t answer) const;
  void view_tick(TimeNs now);
  void on_view(const Address& from, const GossipHeader& h);

  // ---- failure_detector.cpp: probes, suspicion, refutation
  void on_gossip(const Address& from, Bytes body, TimeNs now);
  void probe_tick(TimeNs now);
  void check_suspicions(TimeNs now);
  void refute(std::uint64_t seen_inc, TimeNs now);
  void notice(std::uint32_t i, TimeNs now);
  bool judged_late(TimeNs late_ns) const;
  TimeNs probe_wait() const;  // a direct probe's wait for its ack (AckWait, local health)
  bool heard_enough(std::uint32_t i, TimeNs now) const;
  void credit_visit(std::uint32_t i, TimeNs now);
  TimeNs scaled(TimeNs t) const { return t * (1 + fd.local_health); }
  TimeNs probe_interval_ns() const { return config.probe_interval_ms * kNsPerMs; }
  TimeNs suspicion_timeout(std::uint32_t confirmations) const;

  // ---- gossip.cpp: the gossip queue, pushes, updates in and out
  void apply_update(Update u, NodeId via, const Address& from, TimeNs now);
  void enqueue_gossip(NodeId node, Entry entry);
  void push_to_all(NodeId subject, Entry entry, bool include_dead, NodeId from = 0);
  void send_gossip(const Address& to, const GossipHeader& h, Via via = Via::Member);
  bool make_update(NodeId node, Entry entry, Update& u) const;
  std::size_t write_updates(BodyWriter& w, std::size_t count_at, std::size_t budget, const OutItem& item);

  // ---- dialer.cpp: dials, handshakes, beacons
  void on_handshake(const Address& from, const protocol::HandshakeFrame& h, TimeNs now);
  void on_beacon(const Address& from, Bytes body, TimeNs now);
  // The handshake limiters (Dialer): whether a Hello / beacon (or a HelloCookie whose
  // cookie was verified) from `from` is processed; counts rate_limited when not.
  bool admit_handshake(const Address& from, bool valid_cookie, TimeNs now);
  void on_refuse(const Address& from, std::uint32_t cid, protocol::CloseReason reason, TimeNs now);
  void start_dial(const Address& to, NodeId node, TimeNs now, bool discovery = false);
  // A beacon from a node we are not connected to: dial it (bounded, see Dial::discovery).
  void follow_beacon(const Address& to, NodeId node, TimeNs now);
  // A member held Dead showed a sign of life: our beacon goes now (a healing partition).
  void answer_beacon(TimeNs now);
  // A dial to a silent member held Dead sends nothing while beacons are heard (dialer.cpp).
  bool dial_held(const Dial& d, TimeNs now) const;
  bool beacons_heard(TimeNs now) const;
  // Whether `sender`, heard from `from`, completed a handshake with us: a connected
  // member at that address. Without a key, only such a sender's gossip is applied and
  // only its claims decide the role.
  bool handshaken(NodeId sender, const Address& from) const;
  void dial_tick(TimeNs now);
  void beacon_tick(TimeNs now);
  Dial* dial_to(const Address& to);
  void cancel_dial(const Address& to);
  bool should_dial(std::uint32_t i, TimeNs now) const;
  // Member i is reachable again (it came back Alive): its next dial goes now, not after
  // the backoff that grew while it was away. redial_now also starts the dial when there
  // is none: member i is held Dead but a datagram from its address proves it is there.
  void hurry_dial(std::uint32_t i, TimeNs now);
  void hurry(Dial& d, TimeNs now);  // one dial: its backoff starts over, it goes now (or min backoff after the last)
  void redial_now(std::uint32_t i, TimeNs now);
  std::uint32_t fresh_cid();
  // The member a completed handshake is with: found (and reconciled) or added; ~0u when
  // the view is full. `sync` says whether to push it our view.
  std::uint32_t admit(const protocol::HandshakeFrame& h, const Address& from, TimeNs now, bool& sync);
  void send_accept(const Address& to, std::uint32_t local_cid);
  // Our records to a peer we just connected to: the full view (`sync`) or our own ones.
  void send_sync(const Address& to);
  void introduce(const Address& to, bool sync);

  // ---- connections.cpp: the connection to each member
  // `path`: where the completing handshake datagram came in (the pair's path).
  void install_connection(std::uint32_t i, std::uint32_t local_cid, std::uint32_t remote_cid, Path path, TimeNs now);
  // A datagram from member i's address for a connection id we do not know.
  void on_stray_datagram(std::uint32_t i, TimeNs now);
  void drop_connection(std::uint32_t i, std::optional<FailReason> abort_reason, TimeNs now);
  void connection_touched(NodeId id);
  void maybe_peer_up(std::uint32_t i);

  // ---- link_table.cpp: this node's measurement of its links
  void evaluate_links(TimeNs now);
  // A direct probe's ack was timed: sent -> acked on this node's clock, `turnaround` the
  // responder's own time from the ping's arrival to the ack's departure (0 if untimed).
  void on_probe_rtt(std::uint32_t i, TimeNs sent, TimeNs acked, TimeNs turnaround, TimeNs now);
  // Member i is Dead/Left: drop its reports and our own measurement of it. Reports of
  // others about it stay (hidden by links() while it is not live): an observer that
  // still holds it Alive would never send them again after a transient Dead here.
  void forget_links(std::uint32_t i);
  void forget_links_about(NodeId id);  // member reaped: no observer's report about it is kept

  // ---- link_reports.cpp: link quality disseminated over the connections
  void report_link(std::uint32_t i, LinkUrgency urgency, TimeNs now);  // our link to member i changed
  void flush_link_digest(TimeNs now);  // the pending changes to every member, when due
  void send_link_table(std::uint32_t to, TimeNs now);
  // The links `about` (member indices) to member `to`, in as few digests as fit; if the
  // lane refuses one, the whole table goes again later (resend_links).
  void send_link_digests(std::uint32_t to, std::span<const std::uint32_t> about, TimeNs now);
  bool link_reportable(std::uint32_t i) const;  // our link to member i is measured and it is live
  void on_mesh_message(std::uint32_t from, const protocol::ReceivedEvent& r, TimeNs now);
  void on_mesh_outcome(std::uint32_t i, const protocol::ConnectionEvent& e);

  // ---- election.cpp
  void elect(TimeNs now);
  void observe_claim(const Claim& c, TimeNs now);

  // ---- displays.cpp
  void on_displays(const Update& u);  // a member's display announcement
  void refresh_displays(std::uint32_t i);
  void set_own_displays(std::vector<Display> displays, TimeNs now);

  // ---- mesh.cpp: the router's send side before sealing
  std::optional<Transmit> poll_plain(MutableBytes buffer, TimeNs now, protocol::Gathered* gathered = nullptr);

  // ---- mesh_clock.cpp: timestamps, per-peer offsets, mesh time
  TimeNs local_clock(TimeNs now) const { return clock.shift.local(now); }
  void stamp_ping(std::uint32_t i, GossipHeader& ping, TimeNs now);
  void answer_ping_clock(const GossipHeader& ping, GossipHeader& ack, TimeNs now) const;
  void on_clock_ack(std::uint32_t i, const GossipHeader& ack, TimeNs now);
  bool clock_sample_due(std::uint32_t i, TimeNs now) const;
  void clock_tick(TimeNs now);
  MeshTimeTarget coordinator_target(TimeNs local) const;

  // ---- transport_path.cpp: which path each member is sent on, UDP path probes
  bool auto_path() const { return config.transport == 0; }
  // transport = auto: a handshake completed over a stream while no member is reached over
  // UDP (and none has moved back to UDP since): this node's network likely blocks UDP, so
  // members new to the view are probed over the stream and dialed both ways from the
  // start, instead of failing over UDP first (probes of members learned by gossip would
  // otherwise go unanswered and churn the view while the dials fall back one by one).
  // One slow handshake among many over UDP says nothing about the network: it does not
  // set this (a starved cold start of 100 nodes once tipped into churn that way).
  bool udp_doubted = false;
  bool any_member_over_udp() const;  // a connected member this node sends to over UDP
  // Member i's UDP datagrams have reached us since `since` (PathProbe::udp_heard_at).
  bool udp_heard_since(std::uint32_t i, TimeNs since) const;
  void heard_udp_from(const Address& from, TimeNs now);  // any UDP datagram: whose member?
  // transport = auto: dial d has gone unanswered over UDP long enough, often enough and
  // with no sign of UDP from its peer, to try the stream as well.
  bool should_fall_back(const Dial& d, TimeNs now) const;
  // Puts member i on the stream or on UDP (the forced transports win); its connection
  // follows, and on the stream in auto mode its UDP path probes start.
  void set_path(std::uint32_t i, bool over_stream, TimeNs now);
  // Whether a datagram to `to` (an outbox item's `via`, or a connection's member) rides
  // the stream.
  bool stream_for(const OutItem& item) const;
  bool stream_for(const Member& m) const;
  std::optional<std::uint32_t> member_at(const Address& a) const;
  void path_tick(std::uint32_t i, TimeNs now);      // member i's UDP path probe is due
  void on_path_ack(std::uint32_t i, std::uint64_t seq, const Address& from, TimeNs now);
  void heard_over_udp(std::uint32_t i, const Address& from, TimeNs now);  // an authentic UDP datagram from it
  Via reply_via() const { return rx_path == Path::Stream ? Via::Stream : Via::Udp; }

  // ---- outbox.cpp
  void push_out(OutItem item);
  std::size_t encode_out(const OutItem& item, MutableBytes buffer);
};

}  // namespace hana::topology
