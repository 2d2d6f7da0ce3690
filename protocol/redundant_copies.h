// Spaced duplicates of urgent datagrams (the high_redundancy knob). A datagram that
// carries Control or High data is kept here, byte for byte, and sent again
// `spacing` later, `copies` times. The copy has the original's packet number, so the
// receiver's duplicate-packet check drops whichever arrives second: exactly-once,
// ordering, fragments and latest-value need nothing new, and loss detection never sees
// the copy (it is not a sent packet). When both are lost, the normal repair runs.
//
// Bounded: a fixed number of datagrams, their storage allocated once on first use (the
// knob is off by default and runtime-settable). When full, the newest datagram goes
// unprotected rather than delaying or dropping an older copy.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "hana/types.h"
#include "protocol/codec.h"

namespace hana::protocol {

class RedundantCopies {
 public:
  static constexpr std::size_t kSlots = 8;

  // Keeps `datagram` to be sent `copies` more times, the first at `due`. False when full.
  bool keep(Bytes datagram, TimeNs due, std::uint32_t copies, std::size_t max_datagram) {
    if (count_ == kSlots || copies == 0 || datagram.size() > max_datagram) return false;
    if (slot_bytes_ < max_datagram) {  // first use, or the datagram cap grew
      storage_.assign(kSlots * max_datagram, 0);
      slot_bytes_ = max_datagram;
      count_ = head_ = 0;  // copies in the old layout are forgotten, not corrupted
    }
    const std::size_t i = (head_ + count_) % kSlots;
    std::memcpy(storage_.data() + i * slot_bytes_, datagram.data(), datagram.size());
    slots_[i] = Slot{due, static_cast<std::uint32_t>(datagram.size()), copies};
    ++count_;
    return true;
  }

  std::optional<TimeNs> next_due() const {
    if (count_ == 0) return std::nullopt;
    return slots_[head_].due;
  }

  // Writes the oldest copy that is due into `out` and returns its size (0 = none due).
  // Slots are kept in send order and share one spacing, so the oldest is due first.
  std::size_t take_due(MutableBytes out, TimeNs now, TimeNs spacing) {
    if (count_ == 0 || slots_[head_].due > now) return 0;
    Slot& s = slots_[head_];
    if (s.size > out.size()) {  // cannot happen with the connection's own buffers; never stall on it
      drop_head();
      return 0;
    }
    std::memcpy(out.data(), storage_.data() + head_ * slot_bytes_, s.size);
    const std::size_t n = s.size;
    if (--s.copies_left == 0) {
      drop_head();
    } else {
      // Further copies of the same datagram go behind the others, keeping the queue in
      // due order (all share one spacing).
      const Slot again{now + spacing, s.size, s.copies_left};
      const std::size_t from = head_;
      drop_head();
      const std::size_t to = (head_ + count_) % kSlots;
      if (to != from) std::memmove(storage_.data() + to * slot_bytes_, storage_.data() + from * slot_bytes_, again.size);
      slots_[to] = again;
      ++count_;
    }
    return n;
  }

  void clear() { count_ = head_ = 0; }
  std::size_t pending() const { return count_; }

 private:
  struct Slot {
    TimeNs due = 0;
    std::uint32_t size = 0;
    std::uint32_t copies_left = 0;
  };
  void drop_head() {
    head_ = (head_ + 1) % kSlots;
    --count_;
  }

  std::array<Slot, kSlots> slots_{};
  std::vector<std::uint8_t> storage_;
  std::size_t slot_bytes_ = 0;
  std::size_t head_ = 0;
  std::size_t count_ = 0;
};

}  // namespace hana::protocol
