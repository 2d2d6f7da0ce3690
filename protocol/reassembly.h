// Reassembly of fragmented messages. Memory is bounded: every partial message reserves
// its whole length against a budget shared with held-back ordered messages, and the
// number of partial messages is capped. Exceeding either is the peer's fault
// (LimitExceeded); the connection then closes with CloseReason::ResourceLimit.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "protocol/buffer_pool.h"
#include "protocol/frames.h"

namespace hana::protocol {

class Reassembly {
 public:
  static constexpr std::size_t kMaxPartials = 1024;
  // Partially received unreliable messages kept; older ones are evicted, not fatal.
  static constexpr std::size_t kMaxUnreliablePartials = 16;

  enum class Outcome : std::uint8_t { Incomplete, Complete, Duplicate, LimitExceeded, Inconsistent };

  explicit Reassembly(BufferPool& pool) : pool_(pool) { entries_.reserve(16); }

  // Adds one fragment of message `seq` in `stream`. `budget_left` is what the
  // connection's reassembly limit still allows (for a new partial message).
  // On Complete, `buffer_out` owns the whole message (the caller releases it).
  Outcome add(std::size_t stream, std::uint64_t seq, std::uint64_t total_length, std::uint64_t offset,
              Bytes payload, bool unreliable, std::uint64_t budget_left, std::uint32_t& buffer_out);
  // Forgets a partial message (skipped or superseded).
  void drop(std::size_t stream, std::uint64_t seq);
  // Forgets partial messages of `stream` with sequence below `seq` (sequenced streams).
  void drop_below(std::size_t stream, std::uint64_t seq);
  void clear();

  std::uint64_t bytes() const { return bytes_; }  // reserved by partial messages
  std::size_t partials() const { return active_; }
  std::uint64_t evicted() const { return evicted_; }

 private:
  struct Entry {
    bool used = false;
    bool unreliable = false;
    std::size_t stream = 0;
    std::uint64_t seq = 0;
    std::uint64_t total = 0;
    std::uint64_t received = 0;
    std::uint64_t age = 0;  // arrival order, for evicting the oldest unreliable partial
    std::uint32_t buffer = BufferPool::kNone;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> have;  // [start, end), sorted
  };
  Entry* find(std::size_t stream, std::uint64_t seq);
  void release(Entry& e);
  // Adds [a, b) to e.have; returns the number of bytes not covered before.
  static std::uint64_t cover(Entry& e, std::uint64_t a, std::uint64_t b);

  BufferPool& pool_;
  std::vector<Entry> entries_;
  std::size_t active_ = 0;
  std::size_t unreliable_active_ = 0;
  std::uint64_t bytes_ = 0;
  std::uint64_t clock_ = 0;
  std::uint64_t evicted_ = 0;
  std::size_t last_ = 0;  // fragments of one message usually arrive together
};

}  // namespace hana::protocol
