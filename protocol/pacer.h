// Pacing of Normal/Bulk packets at the congestion controller's rate. Control and High
// packets are never paced: a single small urgent packet must not wait when the window
// allows it.
#pragma once

#include <cstdint>

#include "protocol/token_bucket.h"

namespace hana::protocol {

class Pacer {
 public:
  // burst: how many full datagrams may leave back to back.
  static constexpr std::uint64_t kBurstPackets = 10;

  void update(std::uint64_t rate_bytes_per_sec, std::uint64_t datagram_bytes, TimeNs now) {
    if (!enabled_) return;
    bucket_.refill(now);
    bucket_.configure(rate_bytes_per_sec, kBurstPackets * datagram_bytes);
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
