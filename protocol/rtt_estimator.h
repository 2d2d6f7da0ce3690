// RTT estimation after RFC 9002 section 5: smoothed RTT, variance, minimum and
// latest sample, and the probe-timeout duration derived from them.
#pragma once

#include <algorithm>
#include <cstdint>

#include "hana/types.h"

namespace hana::protocol {

class RttEstimator {
 public:
  explicit RttEstimator(TimeNs initial_rtt_ns)
      : smoothed_ns_(initial_rtt_ns), var_ns_(initial_rtt_ns / 2), initial_ns_(initial_rtt_ns) {}

  // One sample: time from sending the largest newly acked packet to its ack, and the
  // delay the peer says it held the ack (capped at max_ack_delay, ignored if it would
  // push the sample below the minimum).
  void on_sample(TimeNs sample_ns, TimeNs ack_delay_ns, TimeNs max_ack_delay_ns);

  // Base probe timeout (no backoff): srtt + max(4*rttvar, granularity) + max_ack_delay.
  TimeNs pto_base_ns(TimeNs max_ack_delay_ns, TimeNs granularity_ns) const {
    return smoothed_ns_ + std::max<TimeNs>(4 * var_ns_, granularity_ns) + max_ack_delay_ns;
  }

  bool has_sample() const { return samples_ != 0; }
  std::uint64_t samples() const { return samples_; }
  TimeNs smoothed_ns() const { return smoothed_ns_; }
  TimeNs var_ns() const { return var_ns_; }
  TimeNs min_ns() const { return has_sample() ? min_ns_ : initial_ns_; }
  TimeNs latest_ns() const { return has_sample() ? latest_ns_ : initial_ns_; }

 private:
  TimeNs smoothed_ns_;
  TimeNs var_ns_;
  TimeNs min_ns_ = 0;
  TimeNs latest_ns_ = 0;
  TimeNs initial_ns_;
  std::uint64_t samples_ = 0;
};

}  // namespace hana::protocol
