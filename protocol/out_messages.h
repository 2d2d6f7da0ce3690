// Sender-side message records: a pool of reusable slots (each holds a reference to its
// bytes in a SharedPayloads pool, shared with the other connections of a broadcast),
// per-lane FIFO queues of messages not yet fully sent, per-lane queues of
// fragments to retransmit (served before new data of the lane), and a creation-order
// list of live reliable messages for deadlines.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "hana/types.h"
#include "protocol/ring.h"
#include "protocol/shared_payloads.h"

namespace hana::protocol {

inline constexpr std::uint32_t kNoSlot = UINT32_MAX;

struct OutMessage {
  MessageId id = 0;
  Lane lane = Lane::Normal;
  Delivery delivery = Delivery::ReliableOrdered;
  bool latest_value = false;
  bool delivered_event = true;  // SendOptions::delivered_event
  bool mesh = false;  // kDataMesh
  bool live = false;
  bool queued = false;        // in its lane queue (not every fragment sent once)
  bool seq_assigned = false;  // the first fragment went out
  std::uint64_t key = 0;
  std::uint64_t version = 0;
  std::uint64_t sequence = 0;
  std::uint32_t gen = 0;  // bumped on free: stale references compare unequal
  std::uint32_t fragment_count = 1;
  std::uint32_t fragment_bytes = 0;  // payload bytes per fragment; 0 = unfragmented
  std::uint32_t next_fragment = 0;   // first-transmission progress
  std::uint32_t acked_count = 0;
  std::uint32_t retransmits = 0;
  std::uint32_t probe_round = 0;  // the last probe timeout that counted a retransmission
  TimeNs created = 0;
  std::uint32_t live_prev = kNoSlot;  // creation-order list of live reliable messages
  std::uint32_t live_next = kNoSlot;
  std::uint32_t payload = SharedPayloads::kNone;  // a reference held in OutMessages' pool
  std::size_t payload_size = 0;
  std::vector<std::uint64_t> acked_bits;  // one bit per fragment

  bool fragmented() const { return fragment_bytes != 0; }
  std::size_t fragment_offset(std::uint32_t f) const { return std::size_t{f} * fragment_bytes; }
  std::size_t fragment_length(std::uint32_t f) const {
    if (!fragmented()) return payload_size;
    const std::size_t off = fragment_offset(f);
    return payload_size - off < fragment_bytes ? payload_size - off : fragment_bytes;
  }
  bool fragment_acked(std::uint32_t f) const { return (acked_bits[f / 64] >> (f % 64)) & 1u; }
  void set_fragment_acked(std::uint32_t f) { acked_bits[f / 64] |= std::uint64_t{1} << (f % 64); }
};

struct QueueEntry {
  std::uint32_t slot = 0;
  std::uint32_t gen = 0;
};
struct RetxEntry {
  std::uint32_t slot = 0;
  std::uint32_t gen = 0;
  std::uint32_t fragment = 0;
};

struct LaneQueues {
  Ring<QueueEntry> fresh{64};
  Ring<RetxEntry> retx{64};
  std::uint32_t queued_live = 0;  // live messages in `fresh` (QueueFull bound)
};

class OutMessages {
 public:
  OutMessages();
  ~OutMessages();  // drops the payload references of messages still live
  OutMessages(const OutMessages&) = delete;
  OutMessages& operator=(const OutMessages&) = delete;

  // Where payloads live: a pool of our own until one shared by several connections is
  // given; only while no message is live (the references belong to the pool).
  bool use_payloads(SharedPayloads* shared);
  SharedPayloads& payloads() { return *payloads_; }
  const SharedPayloads& payloads() const { return *payloads_; }
  bool payloads_shared() const { return payloads_ != &own_payloads_; }
  // Makes `payload` (a reference the caller gives up, or kNone) the slot's bytes,
  // dropping the one it held.
  void set_payload(std::uint32_t slot, std::uint32_t payload);
  Bytes payload(std::uint32_t slot) const { return payloads_->bytes(slots_[slot].payload); }

  // A fresh slot (payload left for the caller to set).
  std::uint32_t allocate(TimeNs now);
  void free(std::uint32_t slot);
  OutMessage& operator[](std::uint32_t slot) { return slots_[slot]; }
  const OutMessage& operator[](std::uint32_t slot) const { return slots_[slot]; }
  bool valid(std::uint32_t slot, std::uint32_t gen) const {
    return slot < slots_.size() && slots_[slot].live && slots_[slot].gen == gen;
  }

  // Creation-order list of live reliable messages (oldest first) for deadlines.
  void link_live(std::uint32_t slot);
  std::uint32_t oldest_live() const { return live_head_; }

  LaneQueues& lane(Lane l) { return lanes_[static_cast<std::size_t>(l)]; }
  const LaneQueues& lane(Lane l) const { return lanes_[static_cast<std::size_t>(l)]; }

  // Drops dead entries at the front of the lane's queues; returns true if the lane has work.
  bool lane_ready(Lane l);
  // No entry in any lane's queues, dead or alive: no lane is ready (cheaper than asking each).
  bool queues_empty() const {
    for (const LaneQueues& q : lanes_)
      if (!q.fresh.empty() || !q.retx.empty()) return false;
    return true;
  }
  std::size_t live_count() const { return live_count_; }

 private:
  void unlink_live(std::uint32_t slot);
  SharedPayloads own_payloads_;
  SharedPayloads* payloads_ = &own_payloads_;
  std::vector<OutMessage> slots_;
  std::vector<std::uint32_t> free_;
  std::array<LaneQueues, kLaneCount> lanes_;
  std::uint32_t live_head_ = kNoSlot;
  std::uint32_t live_tail_ = kNoSlot;
  std::size_t live_count_ = 0;
};

}  // namespace hana::protocol
