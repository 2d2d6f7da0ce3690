// Pacing of Normal/Bulk packets at the congestion controller's rate. Control and High
// packets are never paced: a single small urgent packet must not wait when the window
// allows it.
#pragma once

#include <algorithm>
#include <cstdint>

#include "protocol/token_bucket.h"

namespace hana::protocol {

class Pacer {
 public:
  // burst: how many full datagrams may leave back to back, and at least one full GSO
  // send's worth of bytes (64 segments or 64 KiB, as a TCP TSO burst): at 1472-byte
  // datagrams 10 capped every UDP_SEGMENT send, and so the receiver's GRO batch, at 10.
  static constexpr std::uint64_t kBurstPackets = 10;
  static constexpr std::uint64_t kBurstFloorBytes = 64 * 1024;

  void update(std::uint64_t rate_bytes_per_sec, std::uint64_t datagram_bytes, TimeNs now) {
    if (!enabled_) return;
    bucket_.refill(now);
    bucket_.configure(rate_bytes_per_sec, std::max(kBurstPackets * datagram_bytes, kBurstFloorBytes));
  }
  void set_enabled(bool on, TimeNs now) {
    enabled_ = on;
    if (!on) bucket_ = TokenBucket{};
    else bucket_ = TokenBucket(0, 0, now);
  }
  bool can_send(TimeNs now) { return !enabled_ || bucket_.can_send(now); }
  void on_sent(std::uint64_t bytes, TimeNs now) {
    if (enabled_) bucket_.consume(bytes, now);
  }
  TimeNs ready_at(TimeNs now) const { return enabled_ ? bucket_.ready_at(now) : now; }
  std::uint64_t rate_bytes_per_sec() const { return enabled_ ? bucket_.rate_bytes_per_sec() : 0; }

 private:
  bool enabled_ = false;
  TokenBucket bucket_;
};

}  // namespace hana::protocol
