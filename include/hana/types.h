// Vocabulary types shared by the public API and the sans-IO cores.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace hana {

// Time is always a parameter below the engine: nanoseconds on a monotonic clock
// whose origin the caller chooses (the simulator starts at 0).
using TimeNs = std::uint64_t;
inline constexpr TimeNs kNsPerUs = 1'000;
inline constexpr TimeNs kNsPerMs = 1'000'000;
inline constexpr TimeNs kNsPerSec = 1'000'000'000;

// A mesh's pre-shared key (docs/security.md): 32 random bytes, `hana-net keygen`.
inline constexpr std::size_t kPresharedKeyBytes = 32;
using PresharedKey = std::array<std::uint8_t, kPresharedKeyBytes>;

// Priority lanes. Each lane has its own send queue and its own ordering domain,
// so a loss on Bulk never delays High. Lower value = higher priority.
enum class Lane : std::uint8_t { Control = 0, High = 1, Normal = 2, Bulk = 3 };
inline constexpr std::size_t kLaneCount = 4;
using Priority = Lane;  // the design card uses both words for the same thing

constexpr std::string_view to_string(Lane lane) {
  switch (lane) {
    case Lane::Control: return "control";
    case Lane::High: return "high";
    case Lane::Normal: return "normal";
    case Lane::Bulk: return "bulk";
  }
  return "?";
}

// Delivery mode, chosen per message.
enum class Delivery : std::uint8_t {
  ReliableOrdered = 0,      // exactly once, in send order within the lane
  ReliableUnordered = 1,    // exactly once, as soon as it arrives
  UnreliableSequenced = 2,  // at most once, never older after newer within the lane
  Unreliable = 3,           // at most once, any order
};
inline constexpr std::size_t kDeliveryCount = 4;

constexpr std::string_view to_string(Delivery d) {
  switch (d) {
    case Delivery::ReliableOrdered: return "reliable-ordered";
    case Delivery::ReliableUnordered: return "reliable-unordered";
    case Delivery::UnreliableSequenced: return "unreliable-sequenced";
    case Delivery::Unreliable: return "unreliable";
  }
  return "?";
}

constexpr bool is_reliable(Delivery d) {
  return d == Delivery::ReliableOrdered || d == Delivery::ReliableUnordered;
}

// Sender-local id of one message, unique per connection (and per node for broadcast).
using MessageId = std::uint64_t;

// Node identity: a 64-bit id chosen at start (random or from the configured name).
using NodeId = std::uint64_t;

}  // namespace hana

namespace hana {

// Why a message failed (Delivered never came).
enum class FailReason : std::uint8_t {
  RetryBudget,    // max_retransmits exhausted
  Deadline,       // message_deadline_ms passed
  PeerDead,       // failure detector declared the peer dead
  Closed,         // connection or node closed before delivery (e.g. stop() flush deadline)
  ResourceLimit,  // peer cut off for exceeding a limit
  Superseded,     // latest-value: replaced by a newer version of its key before it was sent
  PeerLimit,      // EventKind::JoinRefused: the node we dialed has a full view (its max_peers)
};

constexpr std::string_view to_string(FailReason r) {
  switch (r) {
    case FailReason::RetryBudget: return "retry-budget";
    case FailReason::Deadline: return "deadline";
    case FailReason::PeerDead: return "peer-dead";
    case FailReason::Closed: return "closed";
    case FailReason::ResourceLimit: return "resource-limit";
    case FailReason::Superseded: return "superseded";
    case FailReason::PeerLimit: return "peer-limit";
  }
  return "?";
}

// Why a datagram from the network was rejected before any of it was acted on (the codec's
// verdict; counted per kind in MeshStats::bad_datagrams_by_error).
enum class DecodeError : std::uint8_t {
  Truncated,           // ran off the end of the datagram
  BadMagic,
  UnknownVersion,
  UnknownHeaderFlags,  // also: a sealed datagram reaching an unkeyed node
  BadChecksum,
  UnknownFrame,
  TooManyFrames,       // more than kMaxFramesPerDatagram
  BadVarint,           // longer than 10 bytes or overflowing 64 bits
  BadLane,
  BadDelivery,
  UnknownDataFlags,
  RangeOverflow,       // ack ranges that underflow packet 0, overlap or exceed kMaxAckRanges
  BadFragment,         // offset+length beyond total, total beyond the hard cap, ...
  TooLong,             // a length field beyond its limit (cookie, close text, ...)
  BadEnum,             // close reason / handshake kind out of range
  Count,
};
inline constexpr std::size_t kDecodeErrorCount = static_cast<std::size_t>(DecodeError::Count);

constexpr std::string_view to_string(DecodeError e) {
  switch (e) {
    case DecodeError::Truncated: return "truncated";
    case DecodeError::BadMagic: return "bad-magic";
    case DecodeError::UnknownVersion: return "unknown-version";
    case DecodeError::UnknownHeaderFlags: return "unknown-header-flags";
    case DecodeError::BadChecksum: return "bad-checksum";
    case DecodeError::UnknownFrame: return "unknown-frame";
    case DecodeError::TooManyFrames: return "too-many-frames";
    case DecodeError::BadVarint: return "bad-varint";
    case DecodeError::BadLane: return "bad-lane";
    case DecodeError::BadDelivery: return "bad-delivery";
    case DecodeError::UnknownDataFlags: return "unknown-data-flags";
    case DecodeError::RangeOverflow: return "range-overflow";
    case DecodeError::BadFragment: return "bad-fragment";
    case DecodeError::TooLong: return "too-long";
    case DecodeError::BadEnum: return "bad-enum";
    case DecodeError::Count: break;
  }
  return "?";
}

// Options of one send.
struct SendOptions {
  Lane lane = Lane::Normal;
  Delivery delivery = Delivery::ReliableOrdered;
  // Latest-value channel: when set, an unsent older version of the same key is
  // replaced in place, and receivers drop versions not newer than the last applied.
  bool latest_value = false;
  std::uint64_t key = 0;
  std::uint64_t version = 0;
  // More messages follow at once (msquic's QUIC_SEND_FLAG_DELAY_SEND, TCP's MSG_MORE): the
  // message is queued on its connection without a loop turn and without transmitting, so
  // a burst of small messages costs a turn and leaves in as few datagrams as the window
  // allows. It leaves with the next send() without `more`, Node::flush(), poll_event() or
  // wait_event() of any thread, and at the latest within standby_grace_us (the node's own
  // thread). Shared threading only: the other models queue every message anyway.
  bool more = false;
  // false: no Delivered event for this message (a Failed one still comes). For streams
  // the application confirms end to end itself, where an event per message is only cost
  // (~0.9k instructions per 64 B message at the sender: the event, its queue, the poll).
  bool delivered_event = true;
};

}  // namespace hana
