#include "protocol/out_messages.h"

namespace hana::protocol {

OutMessages::OutMessages() {
  slots_.reserve(256);
  free_.reserve(256);
}

OutMessages::~OutMessages() {
  for (auto& m : slots_)
    if (m.live) payloads_->release(m.payload);
}

bool OutMessages::use_payloads(SharedPayloads* shared) {
  if (live_count_ != 0) return false;
  payloads_ = shared != nullptr ? shared : &own_payloads_;
  return true;
}

void OutMessages::set_payload(std::uint32_t slot, std::uint32_t payload) {
  OutMessage& m = slots_[slot];
  payloads_->release(m.payload);
  m.payload = payload;
  m.payload_size = payload == SharedPayloads::kNone ? 0 : payloads_->size(payload);
}

std::uint32_t OutMessages::allocate(TimeNs now) {
  std::uint32_t slot;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
    // Room for a few fragments' ack bits up front, so a slot rarely grows again once
    // the in-flight high-water mark is reached.
    slots_.back().acked_bits.reserve(4);
    if (free_.capacity() < slots_.size()) free_.reserve(slots_.capacity());
  }
  OutMessage& m = slots_[slot];
  m.live = true;
  m.queued = false;
  m.seq_assigned = false;
  m.latest_value = false;
  m.delivered_event = true;
  m.key = m.version = m.sequence = 0;
  m.fragment_count = 1;
  m.fragment_bytes = 0;
  m.next_fragment = 0;
  m.acked_count = 0;
  m.retransmits = 0;
  m.probe_round = 0;
  m.created = now;
  m.live_prev = m.live_next = kNoSlot;
  ++live_count_;
  return slot;
}

void OutMessages::link_live(std::uint32_t slot) {
  OutMessage& m = slots_[slot];
  m.live_prev = live_tail_;
  m.live_next = kNoSlot;
  if (live_tail_ != kNoSlot) slots_[live_tail_].live_next = slot;
  else live_head_ = slot;
  live_tail_ = slot;
}

void OutMessages::unlink_live(std::uint32_t slot) {
  OutMessage& m = slots_[slot];
  const bool linked = m.live_prev != kNoSlot || live_head_ == slot;
  if (!linked) return;
  if (m.live_prev != kNoSlot) slots_[m.live_prev].live_next = m.live_next;
  else live_head_ = m.live_next;
  if (m.live_next != kNoSlot) slots_[m.live_next].live_prev = m.live_prev;
  else live_tail_ = m.live_prev;
  m.live_prev = m.live_next = kNoSlot;
}

void OutMessages::free(std::uint32_t slot) {
  OutMessage& m = slots_[slot];
  if (!m.live) return;
  unlink_live(slot);
  if (m.queued) {
    --lanes_[static_cast<std::size_t>(m.lane)].queued_live;
    m.queued = false;
  }
  m.live = false;
  ++m.gen;
  set_payload(slot, SharedPayloads::kNone);
  --live_count_;
  free_.push_back(slot);
}

bool OutMessages::lane_ready(Lane l) {
  LaneQueues& q = lane(l);
  while (!q.retx.empty()) {
    const RetxEntry& e = q.retx.front();
    if (valid(e.slot, e.gen) && !slots_[e.slot].fragment_acked(e.fragment)) break;
    q.retx.pop_front();
  }
  while (!q.fresh.empty()) {
    const QueueEntry& e = q.fresh.front();
    if (valid(e.slot, e.gen) && slots_[e.slot].queued) break;
    q.fresh.pop_front();
  }
  return !q.retx.empty() || !q.fresh.empty();
}

}  // namespace hana::protocol
