// Loss detection after RFC 9002 section 6, sized for a LAN: packet threshold, time
// threshold, and a probe timeout with a floor (pto_floor_us) and exponential backoff
// capped at pto_cap_us.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>

#include "hana/config.h"
#include "hana/types.h"
#include "protocol/rtt_estimator.h"
#include "protocol/sent_packets.h"

namespace hana::protocol {

// Timer granularity assumed for loss and probe timers. RFC 9002 uses 1 ms; a LAN with
// 25-80 us RTTs and an event loop that wakes on time needs far less.
inline constexpr TimeNs kTimerGranularityNs = 20 * kNsPerUs;

// Set from the knobs of the same names (Connection::Impl::apply_config); the defaults are
// the knob table's, not a second copy of them.
struct LossConfig {
  std::uint32_t packet_threshold = Config{}.packet_threshold;
  double time_threshold = Config{}.time_threshold;
  TimeNs max_ack_delay_ns = Config{}.max_ack_delay_us * kNsPerUs;
  TimeNs pto_floor_ns = Config{}.pto_floor_us * kNsPerUs;
  TimeNs pto_cap_ns = Config{}.pto_cap_us * kNsPerUs;
};

// How long after a later packet was acked an earlier one counts as lost.
inline TimeNs loss_delay_ns(const RttEstimator& rtt, double time_threshold) {
  const TimeNs base = std::max(rtt.smoothed_ns(), rtt.latest_ns());
  return std::max(static_cast<TimeNs>(static_cast<double>(base) * time_threshold), kTimerGranularityNs);
}

// Probe timeout after `backoff` consecutive unanswered probes:
// max(srtt + 4*rttvar + max_ack_delay, floor) << backoff, capped.
inline TimeNs pto_duration_ns(const RttEstimator& rtt, const LossConfig& cfg, std::uint32_t backoff) {
  TimeNs pto = std::max(rtt.pto_base_ns(cfg.max_ack_delay_ns, kTimerGranularityNs), cfg.pto_floor_ns);
  for (std::uint32_t i = 0; i < backoff && pto < cfg.pto_cap_ns; ++i) pto *= 2;
  return std::min(pto, std::max(cfg.pto_cap_ns, cfg.pto_floor_ns));
}

// Declares lost every in-flight packet below `largest_acked` that is `packet_threshold`
// numbers older or was sent `loss_delay` before now; calls on_lost(pn, packet) for each
// (before the record is settled). Returns when the next not-yet-lost packet below
// largest_acked would become lost by time (the loss timer), if any.
template <class OnLost>
std::optional<TimeNs> detect_lost(SentPackets& sent, std::uint64_t largest_acked, TimeNs now,
                                  TimeNs loss_delay, std::uint32_t packet_threshold, OnLost&& on_lost) {
  std::optional<TimeNs> loss_time;
  const std::uint64_t end = std::min(largest_acked, sent.next_pn());
  const TimeNs lost_before = now > loss_delay ? now - loss_delay : 0;
  for (std::uint64_t pn = sent.base_pn(); pn < end; ++pn) {
    SentPacket* p = sent.find(pn);
    if (!p) continue;
    const bool by_count = largest_acked - pn >= packet_threshold;
    const bool by_time = p->time_sent <= lost_before;
    if (by_count || by_time) {
      on_lost(pn, *p);
      sent.settle(pn);
    } else {
      const TimeNs t = p->time_sent + loss_delay;
      if (!loss_time || t < *loss_time) loss_time = t;
    }
  }
  return loss_time;
}

}  // namespace hana::protocol
