// Loss detection after RFC 9002 section 6 and RACK (RFC 8985), sized for a LAN: packet
// threshold (until reordering is seen), time threshold with a reordering window that
// grows when a loss turns out spurious, and a probe timeout from the measured RTT and its
// variance with a microsecond floor (pto_floor_us) and exponential backoff capped at
// pto_cap_us.
#pragma once

#include <algorithm>
#include <array>
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

// How long after a later packet was acked an earlier one counts as lost:
// time_threshold x max(srtt, latest, reorder_extent), at least the timer granularity.
// reorder_extent (RACK's reordering window, see ReorderWindow) is 0 until the path has
// reordered.
inline TimeNs loss_delay_ns(const RttEstimator& rtt, double time_threshold, TimeNs reorder_extent = 0) {
  const TimeNs base = std::max({rtt.smoothed_ns(), rtt.latest_ns(), reorder_extent});
  return std::max(static_cast<TimeNs>(static_cast<double>(base) * time_threshold), kTimerGranularityNs);
}

// RACK's reordering window (RFC 8985 6.2), measured instead of guessed. RTT samples come
// from the largest acked packet, and on a jittery path that is the packet which overtook
// the others: srtt and rttvar then describe the fast packets, and a time threshold built
// on them declares every slow one lost (hana-sim, 0-2 ms jitter: 100% of retransmissions
// spurious). So once the path reorders, the time from sending to ack of each packet acked
// out of order (overtaken by a later one), and of each packet acked after it was declared
// lost, is kept as a decaying maximum: the extent. Loss detection waits at least that
// long, and the probe timeout too. The extent shrinks by 1/16 per loss detection that
// turned out right, so it follows the path when its jitter shrinks. Until reordering is
// seen it is 0 and the packet threshold applies; after, only time declares losses.
class ReorderWindow {
 public:
  static constexpr TimeNs kDecayDivisor = 64;
  bool seen() const { return seen_; }
  TimeNs extent_ns() const { return extent_ns_; }
  // Packet acked `sample` after it was sent, below one acked before it (overtaken).
  void on_reordered(TimeNs sample) {
    seen_ = true;
    extent_ns_ = std::max(extent_ns_, sample);
  }
  // An ack named a packet declared lost, `sample` after it was sent.
  void on_spurious_loss(TimeNs sample) { on_reordered(sample); }
  // Loss detection declared packets lost.
  void on_losses() { extent_ns_ -= extent_ns_ / kDecayDivisor; }

 private:
  bool seen_ = false;
  TimeNs extent_ns_ = 0;
};

// The last packets declared lost (packet number, frames requeued because of it), so an
// ack arriving for one later shows the loss and its retransmissions were spurious.
// Fixed size, no allocation: the oldest record is overwritten.
class LostHistory {
 public:
  static constexpr std::size_t kSize = 64;

  bool empty() const { return count_ == 0; }
  void add(std::uint64_t pn, TimeNs time_sent, std::uint32_t frames) {
    if (count_ == kSize) {
      head_ = (head_ + 1) % kSize;
      --count_;
    }
    entries_[(head_ + count_) % kSize] = Entry{pn, time_sent, frames};
    ++count_;
  }
  // Forgets every record with smallest <= pn <= largest; returns how many there were,
  // adds up the frames they had requeued and keeps the earliest send time in `first_sent`.
  std::uint32_t take(std::uint64_t smallest, std::uint64_t largest, std::uint64_t& frames, TimeNs& first_sent) {
    std::uint32_t found = 0;
    std::size_t kept = 0;
    for (std::size_t i = 0; i < count_; ++i) {
      const Entry e = entries_[(head_ + i) % kSize];
      if (e.pn >= smallest && e.pn <= largest) {
        ++found;
        frames += e.frames;
        first_sent = std::min(first_sent, e.time_sent);
      } else {
        entries_[(head_ + kept++) % kSize] = e;
      }
    }
    count_ = kept;
    return found;
  }

 private:
  struct Entry {
    std::uint64_t pn = 0;
    TimeNs time_sent = 0;
    std::uint32_t frames = 0;
  };
  std::array<Entry, kSize> entries_{};
  std::size_t head_ = 0;
  std::size_t count_ = 0;
};

// Probe timeout after `backoff` consecutive unanswered probes:
// max(srtt + 4*rttvar + max_ack_delay, reorder_extent + max_ack_delay, floor) << backoff,
// capped.
inline TimeNs pto_duration_ns(const RttEstimator& rtt, const LossConfig& cfg, std::uint32_t backoff,
                              TimeNs reorder_extent = 0) {
  const TimeNs base = std::max(rtt.pto_base_ns(cfg.max_ack_delay_ns, kTimerGranularityNs),
                               reorder_extent + cfg.max_ack_delay_ns);
  TimeNs pto = std::max(base, cfg.pto_floor_ns);
  for (std::uint32_t i = 0; i < backoff && pto < cfg.pto_cap_ns; ++i) pto *= 2;
  return std::min(pto, std::max(cfg.pto_cap_ns, cfg.pto_floor_ns));
}

// Declares lost every in-flight packet below `largest_acked` that is `packet_threshold`
// numbers older (packet_threshold 0: no count rule) or was sent `loss_delay` before now;
// calls on_lost(pn, packet) for each (before the record is settled). Returns when the next not-yet-lost packet below
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
    const bool by_count = packet_threshold != 0 && largest_acked - pn >= packet_threshold;
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
