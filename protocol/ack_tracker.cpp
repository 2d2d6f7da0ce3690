#include "protocol/ack_tracker.h"

#include <algorithm>

namespace hana::protocol {

void AckTracker::insert_at(std::size_t index, AckRange r, TimeNs now) {
  if (count_ == kTrackedRanges) {
    // Forget the oldest range; everything up to it now reads as "seen".
    floor_ = ranges_[count_ - 1].largest + 1;
    --count_;
    if (index > count_) return;  // the new range itself was the oldest
  }
  for (std::size_t i = count_; i > index; --i) {
    ranges_[i] = ranges_[i - 1];
    touched_[i] = touched_[i - 1];
  }
  ranges_[index] = r;
  touched_[index] = now;
  ++count_;
}

AckTracker::Arrival AckTracker::on_packet(std::uint64_t pn, TimeNs now) {
  if (pn < floor_) return Arrival::Duplicate;
  if (count_ == 0 || pn > ranges_[0].largest) {
    largest_time_ = now;
    if (count_ > 0 && pn == ranges_[0].largest + 1) {
      ranges_[0].largest = pn;
      touched_[0] = now;
    } else {
      insert_at(0, AckRange{pn, pn}, now);
    }
    return Arrival::New;
  }
  // Find the first range (descending) whose smallest <= pn.
  std::size_t i = 0;
  while (i < count_ && ranges_[i].smallest > pn) ++i;
  if (i < count_ && pn <= ranges_[i].largest) return Arrival::Duplicate;
  // pn lies between ranges_[i] (below, may not exist) and ranges_[i-1] (above, exists).
  AckRange& above = ranges_[i - 1];
  const bool touches_above = pn + 1 == above.smallest;
  const bool touches_below = i < count_ && ranges_[i].largest + 1 == pn;
  if (touches_above && touches_below) {
    above.smallest = ranges_[i].smallest;
    touched_[i - 1] = now;
    for (std::size_t j = i; j + 1 < count_; ++j) {
      ranges_[j] = ranges_[j + 1];
      touched_[j] = touched_[j + 1];
    }
    --count_;
  } else if (touches_above) {
    above.smallest = pn;
    touched_[i - 1] = now;
  } else if (touches_below) {
    ranges_[i].largest = pn;
    touched_[i] = now;
  } else {
    insert_at(i, AckRange{pn, pn}, now);
  }
  return Arrival::New;
}

void AckTracker::on_packet_processed(bool ack_eliciting, bool urgent, bool reordered, TimeNs now,
                                     TimeNs max_ack_delay_ns, TimeNs urgent_ack_delay_ns) {
  if (!ack_eliciting) return;  // ACK-only packets are never acked
  if (!ack_pending_) {
    ack_pending_ = true;
    ack_deadline_ = now + max_ack_delay_ns;
  }
  ++eliciting_since_ack_;
  const TimeNs urgent_delay = std::min(urgent_ack_delay_ns, max_ack_delay_ns);
  if (urgent) ack_deadline_ = std::min(ack_deadline_, now + urgent_delay);
  if ((urgent && urgent_delay == 0) || reordered || eliciting_since_ack_ >= 2 || max_ack_delay_ns == 0)
    ack_immediate_ = true;
}

bool AckTracker::build(AckFrame& frame, TimeNs now, std::size_t max_ranges, TimeNs horizon_ns) const {
  if (count_ == 0) return false;
  const std::size_t limit = std::min(max_ranges, kMaxAckRanges);
  std::size_t n = 0;
  for (std::size_t i = 0; i < count_ && n < limit; ++i) {
    // Ranges untouched for longer than the horizon were reported in many ACKs already;
    // leaving them out keeps frames small under sustained loss. (Worst case, the peer
    // missed all of those ACKs and resends data we drop as duplicate.)
    if (i > 0 && touched_[i] + horizon_ns < now) continue;
    frame.ranges[n++] = ranges_[i];
  }
  frame.range_count = static_cast<std::uint8_t>(n);
  frame.ack_delay_us = now > largest_time_ ? (now - largest_time_) / kNsPerUs : 0;
  return true;
}

void AckTracker::on_ack_sent() {
  ack_pending_ = false;
  ack_immediate_ = false;
  eliciting_since_ack_ = 0;
}

}  // namespace hana::protocol
