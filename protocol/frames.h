// Wire structures of one hana-net datagram. docs/wire-format.md is the reference;
// keep the two in step. Decoded frames are views into the datagram: no allocation.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <variant>

#include "hana/types.h"

namespace hana::protocol {

using Bytes = std::span<const std::uint8_t>;
using MutableBytes = std::span<std::uint8_t>;

inline constexpr std::uint8_t kMagic0 = 'h';
inline constexpr std::uint8_t kMagic1 = 'n';
inline constexpr std::uint8_t kWireVersion = 2;

// Limits of the wire itself (knobs may only lower them).
inline constexpr std::size_t kMaxDatagramBytes = 65'507;   // largest UDP/IPv4 payload
inline constexpr std::size_t kMinDatagramBytes = 256;      // smallest max_datagram_bytes knob
inline constexpr std::size_t kDefaultDatagramBytes = 1'452; // 1500 MTU - IPv6(40) - UDP(8)
inline constexpr std::size_t kMaxFramesPerDatagram = 64;
inline constexpr std::size_t kMaxAckRanges = 32;           // ranges in one ACK frame
inline constexpr std::size_t kMaxCookieBytes = 32;
inline constexpr std::size_t kMaxCloseReasonBytes = 255;
inline constexpr std::uint64_t kMaxMessageBytesHardCap = 16ull << 20;  // 16 MiB

// Header flags.
inline constexpr std::uint8_t kFlagShortChecksum = 0x01;  // 4-byte truncated XXH3 trailer
// Connection id and packet number are not on the wire (both 0): the mesh's own
// connectionless datagrams (probes, acks, gossip, beacons, handshakes), 5 bytes shorter.
inline constexpr std::uint8_t kFlagConnectionless = 0x04;
inline constexpr std::uint8_t kKnownHeaderFlags = kFlagShortChecksum | kFlagConnectionless;
// Sealed with the mesh's key (protocol/seal.h). Not in kKnownHeaderFlags: decode_datagram
// rejects it, only a Sealer opens it.
inline constexpr std::uint8_t kFlagSealed = 0x02;

// Connection id 0 addresses the node, not a connection (handshake, beacon).
inline constexpr std::uint32_t kConnectionlessId = 0;

struct Header {
  std::uint8_t version = kWireVersion;
  std::uint8_t flags = 0;
  std::uint32_t connection_id = kConnectionlessId;  // chosen by the *receiver*
  std::uint64_t packet_number = 0;                  // never reused within a connection
  bool operator==(const Header&) const = default;
};

enum class FrameType : std::uint8_t {
  Padding = 0x00,
  Ping = 0x01,
  Ack = 0x02,
  Data = 0x03,
  Close = 0x04,
  Handshake = 0x05,
  Beacon = 0x06,
  Gossip = 0x07,
  Skip = 0x08,
};

// A run of zero bytes; decode folds consecutive zero bytes into one frame.
struct PaddingFrame {
  std::uint32_t length = 1;
  bool operator==(const PaddingFrame&) const = default;
};

// Ack-eliciting no-op: keeps RTT samples flowing and probes liveness.
struct PingFrame {
  bool operator==(const PingFrame&) const = default;
};

// One contiguous run of acknowledged packet numbers, inclusive.
struct AckRange {
  std::uint64_t smallest = 0;
  std::uint64_t largest = 0;
  bool operator==(const AckRange&) const = default;
};

// Selective acknowledgement. ranges[0] holds the largest acknowledged packet;
// ranges are strictly descending and never touch (a gap of at least one).
struct AckFrame {
  std::uint64_t ack_delay_us = 0;  // time the receiver held the ack back
  std::uint8_t range_count = 0;    // 1..kMaxAckRanges
  std::array<AckRange, kMaxAckRanges> ranges{};

  std::uint64_t largest() const { return ranges[0].largest; }
  std::span<const AckRange> active() const { return {ranges.data(), range_count}; }
  bool operator==(const AckFrame& o) const {
    if (ack_delay_us != o.ack_delay_us || range_count != o.range_count) return false;
    for (std::size_t i = 0; i < range_count; ++i)
      if (!(ranges[i] == o.ranges[i])) return false;
    return true;
  }
};

// DATA flags.
inline constexpr std::uint8_t kDataFragment = 0x01;     // total_length and offset present
inline constexpr std::uint8_t kDataLatestValue = 0x02;  // key and version present
// Mesh-internal message: consumed by the topology layer, never delivered to the
// application (which cannot set it: it is not in hana::SendOptions). Its latest-value
// keys are a namespace of their own.
inline constexpr std::uint8_t kDataMesh = 0x04;
inline constexpr std::uint8_t kKnownDataFlags = kDataFragment | kDataLatestValue | kDataMesh;

// A whole message or one fragment of it.
struct DataFrame {
  Lane lane = Lane::Normal;
  Delivery delivery = Delivery::ReliableOrdered;
  // Sequence of the message within its (lane, delivery) stream; the receiver's
  // ordering, sequencing and duplicate suppression key.
  std::uint64_t sequence = 0;
  bool fragmented = false;
  std::uint64_t total_length = 0;     // whole message length (fragmented only)
  std::uint64_t fragment_offset = 0;  // offset of payload in the message (fragmented only)
  bool latest_value = false;
  std::uint64_t key = 0;      // latest-value key, e.g. a display group
  std::uint64_t version = 0;  // latest-value version: receivers drop <= last applied
  bool mesh = false;          // kDataMesh
  Bytes payload;

  bool operator==(const DataFrame& o) const;
};

enum class CloseReason : std::uint8_t {
  Normal = 0,          // application closed / node left
  ProtocolError = 1,   // peer sent something we could not accept
  IdleTimeout = 2,
  ResourceLimit = 3,   // e.g. reassembly memory exceeded
  PeerLimit = 4,       // membership full (the 101st peer)
  VersionMismatch = 5,
};
inline constexpr std::uint8_t kMaxCloseReason = 5;

struct CloseFrame {
  CloseReason reason = CloseReason::Normal;
  Bytes text;  // human-readable detail, <= kMaxCloseReasonBytes
  bool operator==(const CloseFrame& o) const;
};

enum class HandshakeKind : std::uint8_t {
  Hello = 1,        // initiator -> responder, no cookie yet
  Retry = 2,        // responder -> initiator: stateless cookie, no state kept
  HelloCookie = 3,  // initiator -> responder: Hello echoing the cookie
  Accept = 4,       // responder -> initiator: connection state created
};
inline constexpr std::uint8_t kMaxHandshakeKind = 4;

struct HandshakeFrame {
  HandshakeKind kind = HandshakeKind::Hello;
  NodeId node_id = 0;
  std::uint64_t incarnation = 0;
  std::uint32_t connection_id = 0;  // the id the sender wants to be addressed with
  Bytes cookie;                     // <= kMaxCookieBytes
  bool operator==(const HandshakeFrame& o) const;
};

// Bodies defined by the topology layer (topology/ parses them); the codec only
// frames them with a length.
struct BeaconFrame {
  Bytes body;
  bool operator==(const BeaconFrame& o) const;
};
struct GossipFrame {
  Bytes body;
  bool operator==(const GossipFrame& o) const;
};

// The sender gave up on a message (retry budget / deadline): the receiver must
// not wait for `sequence` of this (lane, delivery) stream any longer.
struct SkipFrame {
  Lane lane = Lane::Normal;
  Delivery delivery = Delivery::ReliableOrdered;
  std::uint64_t sequence = 0;
  bool operator==(const SkipFrame&) const = default;
};

using Frame = std::variant<PaddingFrame, PingFrame, AckFrame, DataFrame, CloseFrame, HandshakeFrame,
                           BeaconFrame, GossipFrame, SkipFrame>;

}  // namespace hana::protocol
