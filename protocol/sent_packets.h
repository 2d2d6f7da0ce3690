// Sender-side record of every packet number sent and not yet settled: a ring indexed
// by packet number (numbers are consecutive and never reused), each entry holding
// what the packet carried so a loss can requeue exactly those frames.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "hana/types.h"

namespace hana::protocol {

// One retransmittable frame carried by a packet.
struct FrameRef {
  enum class Kind : std::uint8_t { Data, Skip };
  std::uint64_t value = 0;  // Data: message generation; Skip: sequence
  std::uint32_t slot = 0;   // Data: message slot
  std::uint32_t fragment = 0;
  Kind kind = Kind::Data;
  std::uint8_t lane = 0;
  std::uint8_t delivery = 0;
};

// Reliable frames one packet can carry; small messages beyond this go in the next packet.
inline constexpr std::size_t kMaxRefsPerPacket = 16;

struct SentPacket {
  enum class State : std::uint8_t { InFlight, Settled };
  TimeNs time_sent = 0;
  std::uint32_t size_bytes = 0;
  State state = State::Settled;
  bool ack_eliciting = false;
  bool in_flight = false;  // counted in bytes_in_flight
  // Bytes of its Normal/Bulk frames (what the lane guard counts): not the whole packet,
  // so the ACK and High frames sharing it do not count against Bulk.
  std::uint32_t lower_bytes = 0;
  std::uint8_t ref_count = 0;
  // Frames of this packet already requeued (by a probe timeout, or at its loss): an ack
  // for it after that shows those retransmissions were spurious.
  std::uint8_t requeued = 0;
  // A path-MTU probe: its size (0 = an ordinary packet). Neither data nor congestion: its
  // loss only tells the prober the path does not carry that size.
  std::uint32_t pmtu_probe = 0;
  std::array<FrameRef, kMaxRefsPerPacket> refs{};
};
static_assert(sizeof(SentPacket) <= 512, "sent-packet records are kept small (msquic-style)");

class SentPackets {
 public:
  explicit SentPackets(std::size_t initial_capacity = 256);

  // Appends the record of packet `pn` (must be next_pn()). Grows only while warming up.
  SentPacket& push(std::uint64_t pn);
  // nullptr unless `pn` is still being tracked (in flight).
  SentPacket* find(std::uint64_t pn);
  // Marks settled (acked or lost) and drops settled records from the front.
  void settle(std::uint64_t pn);

  std::uint64_t base_pn() const { return base_pn_; }
  std::uint64_t next_pn() const { return next_pn_; }
  std::size_t size() const { return static_cast<std::size_t>(next_pn_ - base_pn_); }
  SentPacket& at(std::uint64_t pn) { return ring_[(pn - base_pn_ + head_) & mask_]; }
  const SentPacket& at(std::uint64_t pn) const { return ring_[(pn - base_pn_ + head_) & mask_]; }
  std::size_t in_flight_count() const { return in_flight_count_; }

 private:
  void grow();
  std::vector<SentPacket> ring_;
  std::size_t mask_ = 0;
  std::size_t head_ = 0;  // ring index of base_pn_
  std::uint64_t base_pn_ = 0;
  std::uint64_t next_pn_ = 0;
  std::size_t in_flight_count_ = 0;
};

}  // namespace hana::protocol
