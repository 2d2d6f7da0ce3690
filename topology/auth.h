// The mesh's authentication component: with a pre-shared key, every datagram leaving the
// mesh is sealed (Mesh::poll_transmit) and every datagram entering it is opened
// (Mesh::on_datagram) here, before it is routed, so nothing unauthenticated reaches a
// component or creates state. docs/security.md is the threat model.
//
// Replays: a sealed datagram carries its sender's counter, which is the sender's wall
// clock in µs (or one more than its previous datagram's, if that is higher). A datagram
// whose counter is more than kFreshnessWindowUs away from this node's wall clock is
// dropped as stale; a connectionless one (handshake, beacon, gossip) seen before within
// the window is dropped by the ReplayCache; a connection datagram seen before is dropped
// by its connection's packet-number window (the mesh counts those as replays too).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "hana/address.h"
#include "hana/types.h"
#include "protocol/seal.h"

namespace hana::topology {

// How far a sealed datagram's counter (its sender's wall clock) may be from ours. Hosts
// of a mesh must keep their clocks within this of each other (NTP does).
inline constexpr std::uint64_t kFreshnessWindowUs = 60'000'000;

// What a node needs to seal: the keys (in a Sealer), a salt unique to this run of the
// node (random), and how to turn the mesh's monotonic `now` into wall-clock time.
struct Sealing {
  std::optional<protocol::Sealer> sealer;  // unset: the mesh is unauthenticated
  protocol::Salt salt{};
  std::int64_t wall_offset_ns = 0;  // wall clock = now + wall_offset_ns
};

// The recent counters of each recent sender (by key id and salt): a fixed table, set
// associative, least recently used sender evicted. Allocates once, at construction.
class ReplayCache {
 public:
  ReplayCache();
  // True the first time (origin, counter) is seen, which is then remembered; false for
  // a counter seen before, or older than every counter remembered of a sender whose
  // window is full (cannot tell: dropped).
  bool first_sight(const protocol::SealOrigin& origin);

  static constexpr std::size_t kSets = 64;
  static constexpr std::size_t kWays = 4;
  static constexpr std::size_t kRecent = 32;  // counters remembered per sender

 private:
  struct Entry {
    bool used = false;
    std::uint32_t key_id = 0;
    protocol::Salt salt{};
    std::uint64_t last_use = 0;
    std::uint8_t count = 0;
    std::array<std::uint64_t, kRecent> recent{};
  };
  std::vector<Entry> entries_;  // kSets * kWays
  std::uint64_t tick_ = 0;
};

// Which of our keys each recent peer address seals with, so that a node holding two keys
// (rotation) answers each peer under the key that peer holds: learnt from the peer's
// authentic datagrams, kept in a fixed direct-mapped table (a collision only costs a
// datagram or two under the other key). Only used with two keys.
class PeerKeys {
 public:
  PeerKeys();
  void heard(const Address& from, std::size_t key_index);
  // The key for `to`: the one it was last heard under; for an address never heard from
  // (a new dial, the beacon group) the keys take turns, so a dial reaches a peer that
  // holds either and every other beacon is heard by each generation.
  std::size_t key_for(const Address& to, std::size_t key_count);

 private:
  struct Entry {
    Address address;
    std::uint8_t key = 0;
    bool used = false;
  };
  static constexpr std::size_t kEntries = 256;
  std::vector<Entry> entries_;
  std::size_t turn_ = 0;
};

enum class OpenOutcome : std::uint8_t { Opened, AuthFailed, Replayed };

class Auth {
 public:
  explicit Auth(Sealing sealing);

  // Seals buffer[0, plain_size), a datagram for `to`, in place; returns the sealed size
  // (0: it did not fit).
  std::size_t seal(protocol::MutableBytes buffer, std::size_t plain_size, const Address& to, TimeNs now);
  // Opens `datagram` from `from`; on Opened, `out` views the plain frames (valid until
  // the next open).
  // `counter`, when given, receives the seal's counter (strictly increasing per sender).
  OpenOutcome open(const Address& from, protocol::Bytes datagram, TimeNs now, protocol::DatagramView& out,
                   std::uint64_t* counter = nullptr);

 private:
  std::uint64_t wall_us(TimeNs now) const;
  protocol::Sealer sealer_;
  protocol::Salt salt_;
  std::int64_t wall_offset_ns_;
  std::uint64_t last_counter_ = 0;
  ReplayCache replays_;
  PeerKeys peer_keys_;
  std::vector<std::uint8_t> plain_;  // the opened datagram's frames
};

}  // namespace hana::topology
