// The mesh's own outgoing datagrams (everything that is not a Connection's): gossip,
// handshakes, refusals, beacons and view syncs. They are queued as small descriptors
// and encoded straight into the caller's buffer in poll_transmit (outbox.cpp), so that
// piggybacked gossip is chosen at the last moment and nothing is copied.
//
// They are written plain, within datagram_budget(); a keyed mesh seals them (with the
// connections' datagrams) on their way out of Mesh::poll_transmit (topology/auth.h).
#pragma once

#include <cstddef>
#include <cstdint>

#include "hana/address.h"
#include "protocol/frames.h"
#include "topology/bodies.h"
#include "topology/cookie.h"

namespace hana::topology {

inline constexpr std::size_t kMaxOutItems = 16'384;

enum class OutType : std::uint8_t { Gossip, Handshake, Refuse, Beacon, Sync };
// Which record of a member an update carries.
enum class Entry : std::uint8_t { State, Displays, Coordinator };

// The path an item goes on: its member's (Member::over_stream; UDP for a stranger), or the
// one a request came in on (a reply: Retry, Accept, Ack), or UDP for a UDP path probe.
// The forced transports override it (transport_path.cpp, stream_for).
enum class Via : std::uint8_t { Member, Udp, Stream };

struct OutItem {
  OutType type = OutType::Gossip;
  Address to;
  Via via = Via::Member;
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
  // Sync: next member index to write (members.size() = self record, +1 = self displays, +2 = coordinator)
  std::uint32_t cursor = 0;
};

}  // namespace hana::topology
