#include "protocol/ack_tracker.h"

#include <algorithm>

namespace hana::protocol {

void AckTracker::insert_at(std::size_t index, AckRange r) {
  if (count_ == kTrackedRanges) {
    // Forget the oldest range; everything up to it now reads as "seen".
    floor_ = ranges_[count_ - 1].largest + 1;
    --count_;
    if (index > count_) return;  // the new range itself was the oldest
  }
  for (std::size_t i = count_; i > index; --i) ranges_[i] = ranges_[i - 1];
  ranges_[index] = r;
  ++count_;
}

AckTracker::Arrival AckTracker::on_packet(std::uint64_t pn, TimeNs now) {
  if (pn < floor_) return Arrival::Duplicate;
  if (count_ == 0 || pn > ranges_[0].largest) {
    largest_time_ = now;
    if (count_ > 0 && pn == ranges_[0].largest + 1) {
      ranges_[0].largest = pn;
    } else {
      insert_at(0, AckRange{pn, pn});
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
    for (std::size_t j = i; j + 1 < count_; ++j) ranges_[j] = ranges_[j + 1];
    --count_;
  } else if (touches_above) {
    above.smallest = pn;
  } else if (touches_below) {
    ranges_[i].largest = pn;
  } else {
    insert_at(i, AckRange{pn, pn});
  }
  return Arrival::New;
}

void AckTracker::on_packet_processed(bool ack_eliciting, bool urgent, bool reordered, TimeNs now,
                                     TimeNs max_ack_delay_ns) {
  if (!ack_eliciting) return;  // ACK-only packets are never acked
  if (!ack_pending_) {
    ack_pending_ = true;
    ack_deadline_ = now + max_ack_delay_ns;
  }
  ++eliciting_since_ack_;
  if (urgent || reordered || eliciting_since_ack_ >= 2 || max_ack_delay_ns == 0) ack_immediate_ = true;
}

void AckTracker::on_duplicate(TimeNs now, TimeNs max_ack_delay_ns) {
  if (count_ == 0) return;
  if (!ack_pending_) {
    ack_pending_ = true;
    ack_deadline_ = now + max_ack_delay_ns;
  }
}

bool AckTracker::build(AckFrame& frame, TimeNs now, std::size_t max_ranges) const {
  if (count_ == 0) return false;
  const std::size_t n = std::min({count_, max_ranges, kMaxAckRanges});
  frame.range_count = static_cast<std::uint8_t>(n);
  for (std::size_t i = 0; i < n; ++i) frame.ranges[i] = ranges_[i];
  frame.ack_delay_us = now > largest_time_ ? (now - largest_time_) / kNsPerUs : 0;
  return true;
}

void AckTracker::on_ack_sent() {
  ack_pending_ = false;
  ack_immediate_ = false;
  eliciting_since_ack_ = 0;
}

}  // namespace hana::protocol
