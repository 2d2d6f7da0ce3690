#include "protocol/sent_packets.h"

#include <bit>

namespace hana::protocol {

SentPackets::SentPackets(std::size_t initial_capacity) {
  const std::size_t cap = std::bit_ceil(initial_capacity < 16 ? std::size_t{16} : initial_capacity);
  ring_.resize(cap);
  mask_ = cap - 1;
}

void SentPackets::grow() {
  std::vector<SentPacket> bigger(ring_.size() * 2);
  const std::size_t n = size();
  for (std::size_t i = 0; i < n; ++i) bigger[i] = ring_[(head_ + i) & mask_];
  ring_.swap(bigger);
  mask_ = ring_.size() - 1;
  head_ = 0;
}

SentPacket& SentPackets::push(std::uint64_t pn) {
  if (size() == 0) {
    base_pn_ = pn;
    next_pn_ = pn;
    head_ = 0;
  }
  if (size() == ring_.size()) grow();
  next_pn_ = pn + 1;
  SentPacket& p = at(pn);
  // Reset the header only: refs beyond ref_count are never read (saves a 400-byte memset).
  p.time_sent = 0;
  p.size_bytes = 0;
  p.lower_bytes = 0;
  p.ack_eliciting = p.in_flight = false;
  p.ref_count = 0;
  p.requeued = 0;
  p.pmtu_probe = 0;
  p.state = SentPacket::State::InFlight;
  ++in_flight_count_;
  return p;
}

SentPacket* SentPackets::find(std::uint64_t pn) {
  if (pn < base_pn_ || pn >= next_pn_) return nullptr;
  SentPacket& p = at(pn);
  return p.state == SentPacket::State::InFlight ? &p : nullptr;
}

void SentPackets::settle(std::uint64_t pn) {
  SentPacket* p = find(pn);
  if (!p) return;
  p->state = SentPacket::State::Settled;
  --in_flight_count_;
  while (size() > 0 && ring_[head_].state == SentPacket::State::Settled) {
    head_ = (head_ + 1) & mask_;
    ++base_pn_;
  }
}

}  // namespace hana::protocol
