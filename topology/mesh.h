// topology::Mesh: all connections of one node plus discovery, handshake, membership,
// failure detection, roles and display availability. Sans-IO like protocol::Connection:
// the engine feeds datagrams (with their source address) and the time, and drains
// datagrams to send (with their destination) and events.
//
//   - every datagram received (unicast or multicast): on_datagram(from, bytes, now);
//     the mesh is the one place that decodes it, and says what became of it
//   - when now >= next_timeout():                      on_timeout(now)
//   - then: while (auto t = poll_transmit(buf, now)) sendto(t->to, buf[0..t->size])
//   - then drain poll_event().
//
// CONTRACT FILE: engine/ codes against this shape. topology/ owns it; change it
// together with its callers.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "hana/address.h"
#include "hana/config.h"
#include "hana/events.h"
#include "hana/result.h"
#include <array>

#include "hana/stats.h"
#include "hana/types.h"
#include "protocol/frames.h"
#include "protocol/shared_payloads.h"
#include "topology/auth.h"
#include "topology/clock_sync.h"
#include "topology/mesh_time.h"

namespace hana::topology {

using protocol::Bytes;
using protocol::MutableBytes;

struct Display {
  std::string id;
  bool available = true;
  std::string metadata;  // opaque, e.g. "3840x2160@60"
};

struct Identity {
  NodeId id = 0;
  std::string name;
  Address listen;                 // where peers reach us
  bool coordinator_eligible = true;
  std::vector<Display> displays;
};

struct Member {
  NodeId id = 0;
  std::string name;
  Address address;
  MemberState state = MemberState::Alive;
  Role role = Role::Member;
  std::uint64_t incarnation = 0;
  bool connected = false;
  // This node sends to it over its TCP stream (the TCP path), not UDP: transport = tcp,
  // or transport = auto after a handshake completed over the stream and until a UDP path
  // probe is answered (transport_path.cpp).
  bool over_stream = false;
  LinkQuality link;               // as measured by this node
  std::vector<Display> displays;
};

// ---- events ----
struct PeerUp { NodeId peer; Address address; };
struct PeerSuspect { NodeId peer; };
struct PeerDown { NodeId peer; };      // declared Dead
struct PeerLeft { NodeId peer; };      // announced a graceful leave
struct RoleChanged { NodeId node; Role role; std::uint64_t term; };
// A peer's display became available or unavailable (announced so, first announced, removed,
// or its owner was declared Dead / Left and later came back). Never for this node's own displays.
struct DisplayAvailability { NodeId node; std::string display_id; bool available; std::string metadata; };
// observer = the node that measured it: self_id() for this node's own measurements, else
// the member that reported it (link reports, see links()).
struct LinkQualityChanged { NodeId peer; LinkQuality quality; NodeId observer = 0; };
struct MessageReceived {               // payload valid until the next non-const call
  NodeId peer; Lane lane; Delivery delivery; bool latest_value; std::uint64_t key; std::uint64_t version; Bytes payload;
};
struct MessageDelivered { NodeId peer; MessageId id; Lane lane; };
struct MessageFailed { NodeId peer; MessageId id; Lane lane; FailReason reason; };
struct CongestionChanged { NodeId peer; bool in_recovery; std::uint64_t cwnd_bytes; };
// This node's mesh time became synced to the coordinator's, or lost it (no usable
// estimate of the coordinator for kSyncGraceNs).
struct ClockSyncChanged { bool synced; NodeId coordinator; };
// A node we dialed refused us (once per dial): `peer` is its id if known (else 0). The
// only reason today is CloseReason::PeerLimit: its view is full.
struct JoinRefused { NodeId peer; Address address; protocol::CloseReason reason; };
using MeshEvent = std::variant<PeerUp, PeerSuspect, PeerDown, PeerLeft, RoleChanged, DisplayAvailability,
                               LinkQualityChanged, MessageReceived, MessageDelivered, MessageFailed,
                               CongestionChanged, ClockSyncChanged, JoinRefused>;

// Counters of the mesh itself (connection counters are in peer_stats()).
struct MeshCounters {
  std::uint64_t datagrams_in = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t datagrams_out = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t gossip_out = 0;         // connectionless GOSSIP datagrams (probes, acks, pushes, syncs)
  std::uint64_t gossip_bytes_out = 0;
  std::uint64_t handshake_out = 0;
  std::uint64_t beacon_out = 0;
  std::uint64_t beacons_answered = 0;   // beacons sent out of period: a Dead member showed life (answer_beacon)
  std::uint64_t connection_out = 0;     // datagrams of the per-peer connections
  std::uint64_t connection_bytes_out = 0;
  std::uint64_t bad_datagrams = 0;      // rejected (see DatagramVerdict) or a frame/body that did not parse
  std::uint64_t unknown_connection = 0; // non-zero connection id we do not know
  std::uint64_t wrong_source = 0;       // a connection's datagram from an address that is not its member's
  std::uint64_t dead_records_evicted = 0; // Dead/Left members forgotten early (max_dead_records)
  std::uint64_t dials_deferred = 0;     // handshake datagrams postponed by dial_rate_per_sec
  std::uint64_t dials_held = 0;         // Hellos not sent: a silent member held Dead while beacons are heard (dial_held)
  std::uint64_t reassembly_refused = 0; // partial messages refused: the node-wide reassembly budget was full
  std::uint64_t rate_limited = 0;       // handshake/beacon datagrams dropped by the limiter
  std::uint64_t bad_cookies = 0;
  std::uint64_t refused_peer_limit = 0; // handshakes refused with CloseReason::PeerLimit
  std::uint64_t out_queue_drops = 0;    // connectionless datagrams dropped (queue full)
  std::uint64_t updates_out = 0;        // membership updates written into gossip datagrams
  std::uint64_t probes = 0;
  std::uint64_t probes_skipped = 0;     // member heard from recently: no probe needed
  std::uint64_t indirect_probes = 0;
  std::uint64_t probes_judged_late = 0;  // probe verdicts this node reached too late to trust: no suspicion
  std::uint64_t rtt_samples_while_late = 0;  // link RTT samples not taken: this node's timers ran late around them
  std::uint64_t suspicions = 0;         // members this node started suspecting
  std::uint64_t refutations = 0;        // times this node refuted a suspicion of itself
  std::uint64_t view_checks = 0;        // VIEW checks sent (anti-entropy, view_check_interval_ms)
  std::uint64_t view_mismatches = 0;    // VIEWs that differed from ours: our full view was sent back
  std::uint64_t declared_dead = 0;      // Suspect -> Dead transitions seen
  std::uint64_t link_reports_out = 0;   // link reports queued (one per link per peer it goes to)
  std::uint64_t link_reports_in = 0;    // link reports accepted
  std::uint64_t link_digests_out = 0;   // link digests queued (messages; one per peer it goes to)
  std::uint64_t link_digests_in = 0;    // link digests received
  std::uint64_t bad_mesh_messages = 0;  // mesh-internal messages malformed or over the bound, dropped
  std::uint64_t auth_failures = 0;      // keyed mesh: datagrams that did not open (no key, wrong key, forged)
  std::uint64_t replays_dropped = 0;    // keyed mesh: authentic datagrams seen before or outside the freshness window
  std::uint64_t untrusted_gossip = 0;   // gossip with updates from a sender without a completed handshake, updates ignored
  std::uint64_t tcp_fallbacks = 0;      // dials whose UDP handshake went unanswered for tcp_fallback_ms: now over the stream too
  std::uint64_t udp_path_probes = 0;    // UDP path probes sent to members on the TCP path
  std::uint64_t moved_to_udp = 0;       // members moved back from the TCP path to UDP (a path probe was answered over UDP)
  std::uint64_t mismatched_connections = 0; // connections dropped and redialed: the member kept sending to an id we do not know
  std::uint64_t stream_close_hints = 0; // the stream of a member on the TCP path closed: probed at once
  std::array<std::uint64_t, kDecodeErrorCount> bad_datagrams_by_error{};  // datagrams the codec rejected, by why
};

// One link of the mesh-wide picture: `observer` measured `quality` to `peer`.
struct LinkEntry {
  NodeId observer = 0;
  NodeId peer = 0;
  LinkQuality quality;
  TimeNs reported_at = 0;  // when the observer's report arrived (own: when it last changed)
};

// What became of a received datagram. The mesh decodes every datagram exactly once
// (header, then checksum) and counts the rejected ones itself too (bad_datagrams); the
// engine counts them as its bad packets.
enum class DatagramVerdict : std::uint8_t {
  Accepted,     // a hana datagram, routed to its connection or component, which may still
                // drop it (unknown connection id, a malformed frame or body: see MeshCounters)
  BadChecksum,  // the checksum trailer does not match: corrupted on the way, or not ours
  Malformed,    // not a hana datagram: truncated, wrong magic or version, unknown header flags
  Unauthenticated,  // keyed mesh: not sealed, or not under one of our keys, or forged (auth_failures)
};

// The path a datagram came in on or goes out on: the UDP socket or the peer's TCP
// stream (the TCP path, docs/connection.md).
enum class Path : std::uint8_t { Udp, Stream };

struct Transmit {
  Address to;
  std::size_t size;
  bool alone = false;  // a high_redundancy copy: never batched (GSO) with its original
  bool stream = false; // over the peer's TCP stream (the TCP path), not UDP
};

// What Mesh::broadcast did: the id, and to how many members the message was queued or
// not (each of those gets a MessageFailed event).
struct Broadcast {
  MessageId id = 0;
  std::uint32_t queued = 0;
  std::uint32_t rejected = 0;
};

// The reason a message fails with when the mesh refuses to queue it (an error of send()
// or one member of a broadcast): the one mapping, for the engine and the mesh alike.
constexpr FailReason fail_reason_of(Errc e) {
  switch (e) {
    case Errc::NotConnected:
    case Errc::UnknownPeer: return FailReason::PeerDead;
    case Errc::QueueFull:
    case Errc::MessageTooLarge: return FailReason::ResourceLimit;
    default: return FailReason::Closed;
  }
}

class Mesh {
 public:
  // `seed` feeds the mesh's deterministic PRNG (cookies, jitter, probe order). With a
  // sealer in `sealing`, every datagram in and out is sealed (topology/auth.h).
  Mesh(const Config& config, Identity self, std::uint64_t seed, TimeNs now, Sealing sealing = {});
  ~Mesh();
  Mesh(const Mesh&) = delete;
  Mesh& operator=(const Mesh&) = delete;

  // Static seed peer (also used for discovery without multicast). Handshakes until connected.
  Result<void> add_seed(const Address& peer, TimeNs now);
  // Where beacons go (a multicast group or a subnet broadcast address); unset = no beacons.
  void set_beacon_target(std::optional<Address> target);

  // `received_at`: when the datagram arrived, on the same clock as `now` (a kernel
  // receive timestamp converted by the engine); 0 = unknown, taken as `now`. `path`: the
  // UDP socket, or the TCP stream keyed `from` (the peer's listen address).
  DatagramVerdict on_datagram(const Address& from, Bytes datagram, TimeNs now, TimeNs received_at = 0,
                              Path path = Path::Udp);
  // The TCP stream keyed `peer` closed, was reset or failed: a strong hint, not a verdict.
  // A member on the TCP path there is probed at once (its next datagram dials again).
  void on_stream_closed(const Address& peer, TimeNs now);
  void on_timeout(TimeNs now);
  std::optional<TimeNs> next_timeout() const;
  // With `gathered` (a scatter-gather sender), a connection's datagram may leave a large
  // fragment's payload where it lies (protocol::Connection::poll_transmit): Transmit::size
  // is then the bytes in `buffer`, *gathered says where the payload goes on the wire, and
  // its pin is released with release_pin() once the datagram has been sent (or dropped).
  // Sealed and TCP-path datagrams are always whole.
  std::optional<Transmit> poll_transmit(MutableBytes buffer, TimeNs now, protocol::Gathered* gathered = nullptr);
  void release_pin(std::uint32_t pin);
  // False when poll_transmit would find nothing to ask (no datagram of the mesh's own
  // queued, no connection touched since it last had nothing): the caller may skip the
  // pass and the buffer it would hand over. Cheap; most turns find nothing.
  bool transmit_pending() const;
  std::optional<MeshEvent> poll_event();
  // After poll_event returned MessageReceived: takes the storage of its payload instead of
  // a copy (protocol::Connection::take_received_payload, same contract). nullptr when the
  // last event was anything else.
  std::uint8_t* take_received_payload(std::uint8_t* replacement);

  // id 0 = let the mesh number it. Errors as Connection::send, plus UnknownPeer / NotConnected.
  Result<MessageId> send(NodeId peer, Bytes message, const SendOptions& options, TimeNs now, MessageId id = 0);
  // The one broadcast path: sends to every connected member with one id (0 = let the
  // mesh number it); outcomes come per member. A member it cannot be queued to (lane
  // queue full, too large, not live) gets a MessageFailed event with fail_reason_of(error).
  // Errors: InvalidArgument for an id of the mesh's own (top bit set).
  Result<Broadcast> broadcast(Bytes message, const SendOptions& options, TimeNs now, MessageId id = 0);

  // The driving thread is about to sleep until `until` with every event taken: ACKs due
  // by then go out with the next poll_transmit (Connection::flush_acks). True if any.
  bool flush_acks(TimeNs until);

  // Announce a graceful leave and close every connection.
  void leave(TimeNs now);
  void set_displays(std::vector<Display> displays, TimeNs now);
  void apply_runtime_config(const Config& config);

  NodeId self_id() const;
  std::span<const Member> members() const;       // the view (excluding self)
  std::optional<NodeId> coordinator() const;
  std::uint64_t term() const;
  const ConnectionStats* peer_stats(NodeId peer) const;
  const MeshCounters& counters() const;
  // The mesh-wide link picture: this node's own measurements (observer == self_id()) and
  // what every live member reported about its links (at most max_peers per member).
  std::vector<LinkEntry> links() const;
  std::uint64_t incarnation() const;
  // Outgoing message bytes, shared by the connections (one payload per broadcast).
  const protocol::SharedPayloads& payloads() const;

  // ---- mesh clock (mesh_clock.cpp). `now` is the engine's clock, as everywhere.
  // This node's clock as the mesh clock sees it: local = clock_shift().local(now) (the
  // fault injector's clock knobs; identity without them).
  const ClockShift& clock_shift() const;
  // A member's clock against ours (offset = its clock minus ours); invalid before the
  // first sample.
  ClockEstimate clock_estimate(NodeId peer, TimeNs now) const;
  // How mesh time follows this node's local_clock(); mesh time = mapping.mesh_at(local).
  const MeshTimeMapping& mesh_time() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hana::topology
