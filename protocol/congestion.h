// Congestion control behind a small interface, fed by event structs (mvfst/msquic
// style) so a CUBIC or BBR-class controller can replace NewReno later. No allocation:
// the controller lives inline in the connection.
#pragma once

#include <cstdint>

#include "hana/types.h"

namespace hana::protocol {

struct AckEvent {
  std::uint64_t acked_bytes = 0;      // in-flight bytes newly acknowledged
  TimeNs largest_acked_sent_time = 0;  // send time of the largest newly acked packet
  TimeNs now = 0;
  TimeNs smoothed_rtt_ns = 0;
  TimeNs min_rtt_ns = 0;  // 0 = no sample yet
};

struct LossEvent {
  std::uint64_t lost_bytes = 0;
  TimeNs largest_lost_sent_time = 0;  // send time of the newest lost packet
  TimeNs now = 0;
  bool persistent = false;  // every packet over a long period lost: collapse the window
};

class CongestionController {
 public:
  virtual ~CongestionController() = default;
  virtual void on_ack(const AckEvent& ev) = 0;
  virtual void on_loss(const LossEvent& ev) = 0;
  virtual std::uint64_t cwnd_bytes() const = 0;
  virtual bool in_recovery() const = 0;
  // Bytes per second to pace at (0 = do not pace).
  virtual std::uint64_t pacing_rate_bytes_per_sec(TimeNs smoothed_rtt_ns) const = 0;
  // The datagram size (path-MTU discovery moved it) and the window floor that goes with
  // it; the window keeps its size in bytes (at least the floor).
  virtual void set_mss(std::uint64_t mss_bytes, std::uint64_t min_cwnd_bytes) = 0;
  // Queueing delay (smoothed minus minimum RTT) above which the window must not grow.
  virtual void set_queue_delay_target(TimeNs target_ns) = 0;
};

// NewReno (RFC 9002 section 7): slow start, congestion avoidance, one window halving
// per recovery period. Plus a delay guard (after Vegas and LEDBAT): on a LAN the queue a
// loss-based window builds in socket buffers before anything is dropped is what a High
// message waits behind, so once the smoothed RTT exceeds the minimum by the target the
// window stops growing and gives up 1/8 per round trip.
class NewReno final : public CongestionController {
 public:
  NewReno(std::uint64_t mss_bytes, std::uint64_t initial_cwnd_bytes, std::uint64_t min_cwnd_bytes);
  void on_ack(const AckEvent& ev) override;
  void on_loss(const LossEvent& ev) override;
  std::uint64_t cwnd_bytes() const override { return cwnd_; }
  bool in_recovery() const override { return in_recovery_; }
  std::uint64_t pacing_rate_bytes_per_sec(TimeNs smoothed_rtt_ns) const override;
  void set_mss(std::uint64_t mss_bytes, std::uint64_t min_cwnd_bytes) override;
  void set_queue_delay_target(TimeNs target_ns) override { queue_target_ns_ = target_ns; }
  std::uint64_t ssthresh_bytes() const { return ssthresh_; }

 private:
  std::uint64_t mss_;
  std::uint64_t cwnd_;
  std::uint64_t min_cwnd_;
  std::uint64_t ssthresh_ = UINT64_MAX;
  std::uint64_t acked_in_ca_ = 0;  // bytes acked since the last window increase
  TimeNs recovery_start_ = 0;
  bool in_recovery_ = false;
  TimeNs queue_target_ns_ = 0;  // 0 = no delay guard
  TimeNs last_delay_cut_ = 0;
};

}  // namespace hana::protocol
