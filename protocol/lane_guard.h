// Lanes isolated below the scheduler: while Control/High traffic is active on a
// connection, Normal and Bulk may have only about one bandwidth-delay product in flight.
//
// The lane scheduler puts a High message ahead of every queued Bulk one, but not ahead
// of Bulk already handed down: the datagrams in the peer's socket buffer, in the
// kernel between the two, and (on one CPU, loopback) the receive work the peer does
// before it reaches the High datagram. All of that is bounded by the bytes in flight,
// which the congestion window lets grow to whatever the loss-based controller allows
// (measured: 100-140 KB on loopback, where one BDP is ~20 KB, so a ping waited ~100 us
// per hop behind Bulk). The guard caps the lower lanes' share at
// gain x (delivery rate x min RTT), never below a floor of `floor_bytes`, for
// `hold_ns` after the last Control/High message sent or received; with no urgent
// traffic Bulk gets the whole window. Delivery rate: bytes acknowledged per interval of
// at least one smoothed RTT, the largest of the last kRateSamples intervals (a windowed
// max, after BBR's bandwidth filter), so a pause in Bulk does not shrink it at once.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>

#include "hana/types.h"

namespace hana::protocol {

class LaneGuard {
 public:
  static constexpr std::size_t kRateSamples = 8;

  void configure(TimeNs hold_ns, std::uint64_t floor_bytes, double gain) {
    hold_ns_ = hold_ns;
    floor_bytes_ = floor_bytes;
    gain_ = gain;
  }

  // A Control/High message (not the mesh's own traffic) was sent or received.
  void on_urgent(TimeNs now) { active_until_ = now + hold_ns_; }
  bool active(TimeNs now) const { return hold_ns_ != 0 && now < active_until_; }

  void on_acked(std::uint64_t bytes, TimeNs now, TimeNs smoothed_rtt_ns) {
    if (interval_start_ == 0) {
      interval_start_ = now;
      return;  // the first ack only starts the clock
    }
    interval_bytes_ += bytes;
    const TimeNs elapsed = now - interval_start_;
    if (elapsed == 0 || elapsed < smoothed_rtt_ns) return;
    rates_[next_] = interval_bytes_ * kNsPerSec / elapsed;
    next_ = (next_ + 1) % kRateSamples;
    interval_start_ = now;
    interval_bytes_ = 0;
  }

  std::uint64_t delivery_rate_bytes_per_sec() const { return *std::max_element(rates_.begin(), rates_.end()); }

  // Bytes Normal/Bulk may have in flight while the guard is active.
  std::uint64_t limit_bytes(TimeNs min_rtt_ns) const {
    const double bdp = static_cast<double>(delivery_rate_bytes_per_sec()) * static_cast<double>(min_rtt_ns) / 1e9;
    return std::max(floor_bytes_, static_cast<std::uint64_t>(gain_ * bdp));
  }

 private:
  TimeNs hold_ns_ = 0;
  std::uint64_t floor_bytes_ = 0;
  double gain_ = 2.0;
  TimeNs active_until_ = 0;
  TimeNs interval_start_ = 0;
  std::uint64_t interval_bytes_ = 0;
  std::array<std::uint64_t, kRateSamples> rates_{};
  std::size_t next_ = 0;
};

}  // namespace hana::protocol
