// Reliable test messages numbered per lane, the receiver's check that every lane
// arrived in order and the sender's tally of outcomes: shared by the TCP path's node tests (forced and automatic).
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <set>
#include <vector>

#include "hana/node.h"

namespace hana::test {

// Message `seq` of `lane`: filled with the lane's number, `seq` in bytes 1..4, sized
// 16..3015 bytes by seq so that some are fragmented.
inline std::vector<std::uint8_t> lane_message(std::uint8_t lane, std::uint32_t seq) {
  std::vector<std::uint8_t> payload(16 + (seq * 131) % 3000, lane);
  std::memcpy(payload.data() + 1, &seq, sizeof seq);
  return payload;
}

// Counts received lane_message()s and those that broke their lane's order (a gap, a
// duplicate or a step back).
struct LaneOrder {
  std::array<std::int64_t, kLaneCount> last{-1, -1, -1, -1};
  std::uint32_t received = 0;
  std::uint32_t out_of_order = 0;
  void take(Event& e) {
    if (e.kind != EventKind::Received) return;
    std::uint32_t seq = 0;
    std::memcpy(&seq, e.payload.bytes().data() + 1, sizeof seq);
    auto& l = last[static_cast<std::size_t>(e.lane)];
    if (static_cast<std::int64_t>(seq) != l + 1) ++out_of_order;
    l = seq;
    ++received;
  }
};

// The sender's side: which sends were confirmed, and how many failed.
struct SendOutcomes {
  std::set<MessageId> delivered;
  std::uint32_t failed = 0;
  void take(Event& e) {
    if (e.kind == EventKind::Delivered) delivered.insert(e.id);
    if (e.kind == EventKind::Failed) ++failed;
  }
  bool settled(std::size_t sent) const { return delivered.size() + failed >= sent; }
};

}  // namespace hana::test
