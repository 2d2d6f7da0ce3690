// Receive-side packet bookkeeping: which packet numbers arrived (as descending
// ranges, the shape of an ACK frame), duplicate packet suppression, and when an
// ACK is owed (immediately on reordering, within urgent_ack_delay for urgent data, else
// after max_ack_delay or every second ack-eliciting packet).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "hana/types.h"
#include "protocol/frames.h"

namespace hana::protocol {

class AckTracker {
 public:
  // Ranges remembered; packets below the oldest forgotten range count as duplicates.
  static constexpr std::size_t kTrackedRanges = 64;

  enum class Arrival : std::uint8_t { New, Duplicate };

  // Records packet `pn`. Returns Duplicate for a packet seen before (or too old to tell).
  Arrival on_packet(std::uint64_t pn, TimeNs now);

  // Called once the whole datagram was processed.
  //   ack_eliciting: it carried a frame that needs an ack
  //   urgent:        it carried Control/High data: acked within urgent_ack_delay_ns (a
  //                  LAN-sized wait for the reply that usually follows and carries it)
  void on_packet_processed(bool ack_eliciting, bool urgent, bool reordered, TimeNs now,
                           TimeNs max_ack_delay_ns, TimeNs urgent_ack_delay_ns = 0);

  // The driving thread is about to sleep until `until`: an ACK held past that would need
  // a wake-up of its own, so it is owed now. An ACK due later than `until` stays held: the
  // thread wakes first, most likely to send something that carries it. True if owed now.
  bool expedite(TimeNs until) {
    if (ack_pending_ && !ack_immediate_ && ack_deadline_ <= until) ack_immediate_ = true;
    return ack_pending_ && ack_immediate_;
  }
  // True if an ACK should go out now (also piggybacks whenever anything is pending).
  bool ack_due(TimeNs now) const { return ack_pending_ && (ack_immediate_ || now >= ack_deadline_); }
  bool ack_pending() const { return ack_pending_; }
  std::optional<TimeNs> ack_deadline() const {
    if (!ack_pending_) return std::nullopt;
    return ack_immediate_ ? TimeNs{0} : ack_deadline_;
  }

  // Fills `frame` with up to `max_ranges` most recent ranges, leaving out ranges (other
  // than the newest) that received nothing for `horizon_ns`. False if nothing was received.
  bool build(AckFrame& frame, TimeNs now, std::size_t max_ranges = kMaxAckRanges,
             TimeNs horizon_ns = UINT64_MAX / 2) const;
  // The ACK built last went out.
  void on_ack_sent();

  bool any_received() const { return count_ > 0; }
  std::uint64_t largest() const { return count_ ? ranges_[0].largest : 0; }
  std::size_t range_count() const { return count_; }
  const AckRange& range(std::size_t i) const { return ranges_[i]; }

 private:
  void insert_at(std::size_t index, AckRange r, TimeNs now);

  std::array<AckRange, kTrackedRanges> ranges_{};  // descending, never touching
  std::array<TimeNs, kTrackedRanges> touched_{};   // last arrival into each range
  std::size_t count_ = 0;
  std::uint64_t floor_ = 0;  // packets below this are treated as duplicates
  TimeNs largest_time_ = 0;  // arrival of the largest packet (for ack delay)
  bool ack_pending_ = false;
  bool ack_immediate_ = false;
  TimeNs ack_deadline_ = 0;
  std::uint32_t eliciting_since_ack_ = 0;
};

}  // namespace hana::protocol
