// A token bucket in virtual time: `rate` bytes per second refill up to `burst` bytes.
// Used for the per-connection bandwidth cap and, with a rate from the congestion
// controller, for pacing. Rate 0 means unlimited.
#pragma once

#include <algorithm>
#include <cstdint>

#include "hana/types.h"

namespace hana::protocol {

class TokenBucket {
 public:
  TokenBucket() = default;
  TokenBucket(std::uint64_t rate_bytes_per_sec, std::uint64_t burst_bytes, TimeNs now)
      : rate_(rate_bytes_per_sec), burst_(burst_bytes), tokens_(static_cast<double>(burst_bytes)), last_(now) {}

  void configure(std::uint64_t rate_bytes_per_sec, std::uint64_t burst_bytes) {
    if (rate_ == 0) tokens_ = static_cast<double>(burst_bytes);  // was unlimited: start full
    rate_ = rate_bytes_per_sec;
    burst_ = burst_bytes;
    tokens_ = std::min(tokens_, static_cast<double>(burst_));
  }
  bool unlimited() const { return rate_ == 0; }
  std::uint64_t rate_bytes_per_sec() const { return rate_; }

  void refill(TimeNs now) {
    if (now <= last_) return;
    tokens_ = std::min(static_cast<double>(burst_),
                       tokens_ + static_cast<double>(rate_) * static_cast<double>(now - last_) / 1e9);
    last_ = now;
  }
  // True if `bytes` may go now (a packet is allowed whenever the bucket is not in debt,
  // so one datagram larger than the burst is never stuck forever).
  bool can_send(TimeNs now) {
    if (unlimited()) return true;
    refill(now);
    return tokens_ > 0.0;
  }
  bool has(std::uint64_t bytes, TimeNs now) {
    if (unlimited()) return true;
    refill(now);
    return tokens_ >= static_cast<double>(bytes);
  }
  void consume(std::uint64_t bytes, TimeNs now) {
    if (unlimited()) return;
    refill(now);
    tokens_ -= static_cast<double>(bytes);
  }
  // Earliest time can_send() becomes true (now if it already is).
  TimeNs ready_at(TimeNs now) const {
    if (unlimited() || tokens_ > 0.0) return now;
    const double wait_ns = (-tokens_ + 1.0) * 1e9 / static_cast<double>(rate_);
    return std::max(now, last_ + static_cast<TimeNs>(wait_ns) + 1);
  }
  double tokens() const { return tokens_; }

 private:
  std::uint64_t rate_ = 0;
  std::uint64_t burst_ = 0;
  double tokens_ = 0.0;
  TimeNs last_ = 0;
};

}  // namespace hana::protocol
