#include "protocol/congestion.h"

#include <algorithm>

namespace hana::protocol {

NewReno::NewReno(std::uint64_t mss_bytes, std::uint64_t initial_cwnd_bytes, std::uint64_t min_cwnd_bytes)
    : mss_(mss_bytes), cwnd_(std::max(initial_cwnd_bytes, min_cwnd_bytes)), min_cwnd_(min_cwnd_bytes) {}

void NewReno::on_ack(const AckEvent& ev) {
  if (in_recovery_) {
    // Recovery ends once a packet sent after it began is acknowledged.
    if (ev.largest_acked_sent_time <= recovery_start_) return;
    in_recovery_ = false;
  }
  if (queue_target_ns_ != 0 && ev.min_rtt_ns != 0 && ev.smoothed_rtt_ns > ev.min_rtt_ns + queue_target_ns_) {
    if (ev.now >= last_delay_cut_ + ev.smoothed_rtt_ns) {
      last_delay_cut_ = ev.now;
      cwnd_ = std::max(min_cwnd_, cwnd_ - cwnd_ / 8);
      ssthresh_ = std::min(ssthresh_, cwnd_);  // leave slow start: the path is full
    }
    return;
  }
  if (cwnd_ < ssthresh_) {
    cwnd_ += ev.acked_bytes;
    return;
  }
  acked_in_ca_ += ev.acked_bytes;
  if (acked_in_ca_ >= cwnd_) {
    acked_in_ca_ -= cwnd_;
    cwnd_ += mss_;
  }
}

void NewReno::on_loss(const LossEvent& ev) {
  if (ev.persistent) {
    cwnd_ = min_cwnd_;
    acked_in_ca_ = 0;
  }
  // One reduction per round trip: losses of packets sent before recovery began are
  // part of the same congestion event.
  if (in_recovery_ && ev.largest_lost_sent_time <= recovery_start_) return;
  if (!in_recovery_ && recovery_start_ != 0 && ev.largest_lost_sent_time <= recovery_start_) return;
  in_recovery_ = true;
  recovery_start_ = ev.now;
  ssthresh_ = std::max(cwnd_ / 2, min_cwnd_);
  cwnd_ = ssthresh_;
  acked_in_ca_ = 0;
}

std::uint64_t NewReno::pacing_rate_bytes_per_sec(TimeNs smoothed_rtt_ns) const {
  const TimeNs rtt = std::max<TimeNs>(smoothed_rtt_ns, kNsPerUs);
  // 2x in slow start so pacing never limits window growth, 1.25x afterwards (RFC 9002 7.7).
  const double gain = cwnd_ < ssthresh_ ? 2.0 : 1.25;
  const double rate = gain * static_cast<double>(cwnd_) * 1e9 / static_cast<double>(rtt);
  return rate > 1e15 ? static_cast<std::uint64_t>(1e15) : static_cast<std::uint64_t>(rate);
}

void NewReno::set_mss(std::uint64_t mss_bytes, std::uint64_t min_cwnd_bytes) {
  mss_ = mss_bytes;
  min_cwnd_ = min_cwnd_bytes;
  cwnd_ = std::max(cwnd_, min_cwnd_);
}

}  // namespace hana::protocol
