// topology::Mesh: all connections of one node plus discovery, handshake, membership,
// failure detection, roles and display availability. Sans-IO like protocol::Connection:
// the engine feeds datagrams (with their source address) and the time, and drains
// datagrams to send (with their destination) and events.
//
//   - every datagram received (unicast or multicast): on_datagram(from, bytes, now)
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
#include "hana/stats.h"
#include "hana/types.h"
#include "protocol/frames.h"

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
  LinkQuality link;               // as measured by this node
  std::vector<Display> displays;
};

// ---- events ----
struct PeerUp { NodeId peer; Address address; };
struct PeerSuspect { NodeId peer; };
struct PeerDown { NodeId peer; };      // declared Dead
struct PeerLeft { NodeId peer; };      // announced a graceful leave
struct RoleChanged { NodeId node; Role role; std::uint64_t term; };
struct DisplayAvailability { NodeId node; std::string display_id; bool available; };
struct LinkQualityChanged { NodeId peer; LinkQuality quality; };
struct MessageReceived {               // payload valid until the next non-const call
  NodeId peer; Lane lane; Delivery delivery; bool latest_value; std::uint64_t key; std::uint64_t version; Bytes payload;
};
struct MessageDelivered { NodeId peer; MessageId id; Lane lane; };
struct MessageFailed { NodeId peer; MessageId id; Lane lane; FailReason reason; };
struct CongestionChanged { NodeId peer; bool in_recovery; std::uint64_t cwnd_bytes; };
using MeshEvent = std::variant<PeerUp, PeerSuspect, PeerDown, PeerLeft, RoleChanged, DisplayAvailability,
                               LinkQualityChanged, MessageReceived, MessageDelivered, MessageFailed,
                               CongestionChanged>;

struct Transmit {
  Address to;
  std::size_t size;
};

class Mesh {
 public:
  // `seed` feeds the mesh's deterministic PRNG (cookies, jitter, probe order).
  Mesh(const Config& config, Identity self, std::uint64_t seed, TimeNs now);
  ~Mesh();
  Mesh(const Mesh&) = delete;
  Mesh& operator=(const Mesh&) = delete;

  // Static seed peer (also used for discovery without multicast). Handshakes until connected.
  Result<void> add_seed(const Address& peer, TimeNs now);
  // Where beacons go (a multicast group or a subnet broadcast address); unset = no beacons.
  void set_beacon_target(std::optional<Address> target);

  void on_datagram(const Address& from, Bytes datagram, TimeNs now);
  void on_timeout(TimeNs now);
  std::optional<TimeNs> next_timeout() const;
  std::optional<Transmit> poll_transmit(MutableBytes buffer, TimeNs now);
  std::optional<MeshEvent> poll_event();

  // id 0 = let the mesh number it. Errors as Connection::send, plus UnknownPeer / NotConnected.
  Result<MessageId> send(NodeId peer, Bytes message, const SendOptions& options, TimeNs now, MessageId id = 0);
  // Sends to every connected peer with one id; outcomes come per peer. Returns the id
  // and how many peers it was queued to (peers whose lane queue is full are reported via MessageFailed).
  Result<MessageId> broadcast(Bytes message, const SendOptions& options, TimeNs now);

  // Announce a graceful leave and close every connection.
  void leave(TimeNs now);
  void set_displays(std::vector<Display> displays, TimeNs now);
  void apply_runtime_config(const Config& config);

  NodeId self_id() const;
  std::span<const Member> members() const;       // the view (excluding self)
  std::optional<NodeId> coordinator() const;
  std::uint64_t term() const;
  const ConnectionStats* peer_stats(NodeId peer) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hana::topology
