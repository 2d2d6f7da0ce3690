// Receive-side ordering state per (lane, delivery) stream:
//   reliable-ordered:    next expected sequence + out-of-order messages held back
//   reliable-unordered:  which sequences were already delivered (duplicate suppression)
//   unreliable-sequenced: the last delivered sequence (never go backwards)
// plus the latest-value table (key -> last delivered version).
#pragma once

#include <cstdint>
#include <vector>

#include "hana/types.h"
#include "protocol/buffer_pool.h"
#include "protocol/seq_window.h"

namespace hana::protocol {

inline constexpr std::size_t kStreamCount = kLaneCount * kDeliveryCount;
inline std::size_t stream_index(Lane l, Delivery d) {
  return static_cast<std::size_t>(l) * kDeliveryCount + static_cast<std::size_t>(d);
}

// A complete message waiting for its turn in an ordered stream.
struct HeldMessage {
  std::uint32_t buffer = BufferPool::kNone;
  bool latest_value = false;
  std::uint64_t key = 0;
  std::uint64_t version = 0;
  bool mesh = false;
};

class OrderedStream {
 public:
  static constexpr std::uint64_t kMaxSpan = 1u << 20;  // sequences held beyond `next`
  enum class Accept : std::uint8_t { Deliver, Hold, Duplicate, TooFar };

  Accept classify(std::uint64_t seq) const;
  bool done(std::uint64_t seq) const { return classify(seq) == Accept::Duplicate; }
  // Stores a message for later (classify() said Hold).
  void hold(std::uint64_t seq, const HeldMessage& m);
  // The message at `next` was delivered.
  void advance() { pop_slot(); }
  // Next held message that is now in order; skipped sequences are passed over.
  bool pop_ready(HeldMessage& out);
  // The sender gave up on `seq`. Returns a held message to release if one was there.
  void skip(std::uint64_t seq);
  std::uint64_t next() const { return next_; }
  std::size_t held_count() const { return held_; }
  // Releases every held message (connection closing).
  template <class F>
  void clear(F&& release) {
    for (auto& s : slots_) {
      if (s.state == State::Present) release(s.msg.buffer);
      s = Slot{};
    }
    held_ = 0;
  }

 private:
  enum class State : std::uint8_t { Empty, Present, Skipped };
  struct Slot {
    State state = State::Empty;
    HeldMessage msg;
  };
  Slot& slot(std::uint64_t seq) { return slots_[(seq - next_ + head_) & (slots_.size() - 1)]; }
  const Slot& slot(std::uint64_t seq) const { return slots_[(seq - next_ + head_) & (slots_.size() - 1)]; }
  bool in_window(std::uint64_t seq) const { return !slots_.empty() && seq - next_ < slots_.size(); }
  void pop_slot();
  void grow_to(std::uint64_t span);

  std::vector<Slot> slots_;  // ring indexed by seq - next_, power-of-two size
  std::size_t head_ = 0;
  std::uint64_t next_ = 0;
  std::size_t held_ = 0;
};

class SequencedStream {
 public:
  // True if `seq` is newer than everything delivered (then it becomes the last).
  bool is_newer(std::uint64_t seq) const { return !has_last_ || seq > last_; }
  void delivered(std::uint64_t seq) {
    has_last_ = true;
    last_ = seq;
  }

 private:
  bool has_last_ = false;
  std::uint64_t last_ = 0;
};

// (stream, key) -> last delivered version; open addressing, grows at half load. Keys
// live per (lane, delivery) stream, the same domain the sender coalesces in.
class LatestTable {
 public:
  // True (and records it) if `version` is newer than the last delivered for `key`.
  bool accept(std::uint64_t key, std::uint64_t version, std::size_t stream = 0);
  std::size_t size() const { return used_; }

 private:
  struct Entry {
    std::uint64_t key = 0;
    std::uint64_t version = 0;
    std::uint32_t stream = 0;
    bool used = false;
  };
  std::size_t home(std::uint64_t key, std::size_t stream) const {
    return static_cast<std::size_t>(((key ^ (std::uint64_t{stream} << 56)) * 0x9E3779B97F4A7C15ull) >> 20) &
           (table_.size() - 1);
  }
  void grow();
  std::vector<Entry> table_;
  std::size_t used_ = 0;
};

}  // namespace hana::protocol
