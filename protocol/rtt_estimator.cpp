#include "protocol/rtt_estimator.h"

namespace hana::protocol {

void RttEstimator::on_sample(TimeNs sample_ns, TimeNs ack_delay_ns, TimeNs max_ack_delay_ns) {
  latest_ns_ = sample_ns;
  if (samples_++ == 0) {
    min_ns_ = sample_ns;
    smoothed_ns_ = sample_ns;
    var_ns_ = sample_ns / 2;
    return;
  }
  min_ns_ = std::min(min_ns_, sample_ns);
  ack_delay_ns = std::min(ack_delay_ns, max_ack_delay_ns);
  // Subtract the peer's ack delay only while the result stays plausible (>= min RTT):
  // a lying or confused peer must not drive the estimate below what we measured.
  TimeNs adjusted = sample_ns;
  if (sample_ns >= min_ns_ + ack_delay_ns) adjusted = sample_ns - ack_delay_ns;
  const TimeNs diff = smoothed_ns_ > adjusted ? smoothed_ns_ - adjusted : adjusted - smoothed_ns_;
  var_ns_ = (3 * var_ns_ + diff) / 4;
  smoothed_ns_ = (7 * smoothed_ns_ + adjusted) / 8;
}

}  // namespace hana::protocol
